"""Where the provider keeps files on a worker, and the checks before it trusts any of them.

Workers are shared: other local accounts, other teams' tasks. Everything the provider keeps on
disk (the ``requirements=`` virtualenvs and their locks, ingest checkpoints, spool files and staged
parts) lives under one private folder of the worker's user, never under a fixed name in the shared
temporary directory:

* the folder is ``[peak] work_dir`` (``AIRFLOW__PEAK__WORK_DIR``), by default
  ``$AIRFLOW_HOME/peak-provider``; missing folders are created ``0700``;
* before anything there is used, every folder on the way is checked (``lstat``, so a symlink is
  seen as one): the provider's own folders must belong to the worker's user and be writable by no
  one else; the folders above them must belong to that user or to root, and may be writable by
  others only as ``/tmp`` is (root's, with the sticky bit, so no one else can rename or replace an
  entry of ours) or through the root group (the official Airflow image's ``/opt/airflow``); a
  symlink on the way must belong to the user or to root, and its target is checked the same way;
* files are opened with ``O_NOFOLLOW`` (``O_EXCL`` where they are created new), and must be
  regular files of the worker's user writable by no one else.

Anything else is an ``UnsafePathError`` naming the folder and the reason: nothing in it is used.
Standard library only at import time (``ingest/`` imports this); Airflow's configuration is read
when the folder is first asked for.
"""

from __future__ import annotations

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

from airflow_provider_peak.errors import UnsafePathError

#: The provider's section and option in Airflow's configuration.
CONFIG_SECTION = "peak"
CONFIG_OPTION = "work_dir"
#: The folder's name under ``AIRFLOW_HOME`` when ``work_dir`` is not set.
DEFAULT_NAME = "peak-provider"
#: The folder under ``work_dir`` of spool files and staged parts.
SPOOL = "spool"
#: Symlinks followed on one path before it is refused (the kernel's own limit is 40).
MAX_LINKS = 40

_NO_FOLLOW = getattr(os, "O_NOFOLLOW", 0)
_CLOEXEC = getattr(os, "O_CLOEXEC", 0)


def configured_root() -> Path:
    """The configured folder (``[peak] work_dir``), else ``$AIRFLOW_HOME/peak-provider``; not checked."""
    configured = ""
    try:
        from airflow_provider_peak.version_compat import conf

        configured = conf.get(CONFIG_SECTION, CONFIG_OPTION, fallback="") or ""
    except ImportError:  # pragma: no cover - the provider always runs with Airflow
        configured = os.environ.get("AIRFLOW__PEAK__WORK_DIR", "")
    if configured.strip():
        return Path(os.path.expanduser(configured.strip()))
    home = os.environ.get("AIRFLOW_HOME") or "~/airflow"  # Airflow's own default
    return Path(os.path.expanduser(home)) / DEFAULT_NAME


def work_dir(*parts: str) -> Path:
    """The worker user's private folder (or ``parts`` below it), created ``0700`` where missing and
    checked on the way; ``UnsafePathError`` when another account could change it."""
    return private_dir(configured_root(), *parts)


def private_dir(path: str | os.PathLike[str], *parts: str) -> Path:
    """``path`` (a folder the provider keeps state in, such as a ``checkpoint_dir`` a DAG gives)
    and ``parts`` below it, created ``0700`` where missing; returns the real path, every folder of
    which was checked (see the module docstring)."""
    uid = os.geteuid()
    real, missing = _resolve(Path(os.path.abspath(os.fspath(path))), uid)
    if not missing:
        _check_own(real, os.lstat(real), uid)
    for name in [*missing, *parts]:
        if not name or "/" in name or name in (".", ".."):
            raise UnsafePathError(real / name, "not a plain folder name")
        real = _make_own(real / name, uid)
    return real


def check_private(folder: str | os.PathLike[str]) -> Path:
    """``folder``'s real path, if it exists and is private (see the module docstring); else
    ``UnsafePathError``. Nothing is created."""
    uid = os.geteuid()
    real, missing = _resolve(Path(os.path.abspath(os.fspath(folder))), uid)
    if missing:
        raise UnsafePathError(real / missing[0], "does not exist")
    _check_own(real, os.lstat(real), uid)
    return real


def open_private(path: str | os.PathLike[str], flags: int) -> int:
    """``os.open`` of a file in a checked folder: never through a symlink, ``0600`` when created,
    and only if it is a regular file of the worker's user that no one else may write."""
    try:
        fd = os.open(path, flags | _NO_FOLLOW | _CLOEXEC, 0o600)
    except OSError:
        if Path(path).is_symlink():
            raise UnsafePathError(Path(path), "is a symlink; the provider never follows one") from None
        raise
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise UnsafePathError(Path(path), "is not a regular file")
        _check_owner(Path(path), info, os.geteuid())
    except BaseException:
        os.close(fd)
        raise
    return fd


def private_file(path: str | os.PathLike[str], mode: str = "r", **kwargs: Any) -> IO[Any]:
    """``open()`` for files in a checked folder (``open_private``): ``r``, ``a`` (created when
    missing), ``x`` (created, must not exist) or ``w`` (created or emptied), text or ``b``."""
    base = mode.replace("b", "").replace("t", "")
    flags = {
        "r": os.O_RDONLY,
        "a": os.O_WRONLY | os.O_APPEND | os.O_CREAT,
        "x": os.O_WRONLY | os.O_CREAT | os.O_EXCL,
        "w": os.O_WRONLY | os.O_CREAT | os.O_TRUNC,
    }[base]
    return os.fdopen(open_private(path, flags), mode, **kwargs)


def spool_file(prefix: str) -> IO[bytes]:
    """An anonymous temporary file (gone when closed) in the private ``spool`` folder."""
    return tempfile.TemporaryFile(prefix=prefix, dir=work_dir(SPOOL))


def spool_dir(prefix: str) -> Path:
    """A new ``0700`` folder in the private ``spool`` folder (the caller removes it)."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir(SPOOL)))


# ----------------------------------------------------------------------------- checks
def _resolve(path: Path, uid: int) -> tuple[Path, list[str]]:
    """The real path of the longest existing part of ``path`` and the names missing after it,
    checking every folder and symlink on the way as an ancestor."""
    pending = list(path.parts[1:])
    current = Path(path.anchor or "/")
    _check_ancestor(current, os.lstat(current), uid)
    links = 0
    while pending:
        name = pending.pop(0)
        if name in ("", "."):
            continue
        if name == "..":
            current = current.parent
            continue
        candidate = current / name
        try:
            info = os.lstat(candidate)
        except FileNotFoundError:
            return current, [name, *(p for p in pending if p not in ("", "."))]
        if stat.S_ISLNK(info.st_mode):
            # A symlink is as trustworthy as its owner (in a sticky folder only they may replace it).
            if info.st_uid not in (uid, 0):
                raise UnsafePathError(candidate, f"is a symlink owned by uid {info.st_uid}")
            links += 1
            if links > MAX_LINKS:
                raise UnsafePathError(path, f"more than {MAX_LINKS} symlinks on the way")
            target = Path(os.readlink(candidate))
            if target.is_absolute():
                current = Path(target.anchor)
                pending = [*target.parts[1:], *pending]
            else:
                pending = [*target.parts, *pending]
            continue
        if not stat.S_ISDIR(info.st_mode):
            raise UnsafePathError(candidate, "is not a folder")
        _check_ancestor(candidate, info, uid)
        current = candidate
    return current, []


def _check_ancestor(folder: Path, info: os.stat_result, uid: int) -> None:
    """A folder above the provider's own: the user's or root's, writable by others only as ``/tmp``
    is or through the root group."""
    if info.st_uid not in (uid, 0):
        owner = f"belongs to uid {info.st_uid}, not to this worker's user ({uid}) or root"
        raise UnsafePathError(folder, owner)
    mode = info.st_mode
    sticky_of_root = bool(mode & stat.S_ISVTX) and info.st_uid == 0
    if mode & stat.S_IWOTH and not sticky_of_root:
        raise UnsafePathError(folder, f"is writable by every user (mode {stat.filemode(mode)})")
    if mode & stat.S_IWGRP and not (sticky_of_root or info.st_gid == 0):
        raise UnsafePathError(folder, f"is writable by group {info.st_gid} (mode {stat.filemode(mode)})")


def _check_owner(path: Path, info: os.stat_result, uid: int) -> None:
    if info.st_uid != uid:
        raise UnsafePathError(path, f"belongs to uid {info.st_uid}, not to this worker's user ({uid})")
    if info.st_mode & (stat.S_IWGRP | stat.S_IWOTH):
        raise UnsafePathError(path, f"is writable by other users (mode {stat.filemode(info.st_mode)})")


def _check_own(folder: Path, info: os.stat_result, uid: int) -> None:
    """One of the provider's own folders: the user's, a real folder, writable by no one else."""
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(folder, "is not a folder")
    _check_owner(folder, info, uid)


def _make_own(folder: Path, uid: int) -> Path:
    """``folder`` created ``0700`` (or, when it exists, checked as it is: never through a symlink)."""
    with contextlib.suppress(FileExistsError):
        os.mkdir(folder, 0o700)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode):
        raise UnsafePathError(folder, "is a symlink; the provider never follows one in its own folders")
    _check_own(folder, info, uid)
    return folder
