"""``requirements=[...]``: run the fetch in a cached virtualenv and stream its records back.

This is Peak's "Install dependency" field. The packages are installed into a virtualenv
(``python -m venv`` + ``pip``), cached by a hash of the Python version, the requirements and the
package index under the worker user's private folder (``utils.workdir``: ``venvs`` under
``[peak] work_dir``, or ``venv_cache_path``, checked the same way). The virtualenv also sees the
worker's own packages (a ``.pth`` file appended after its own site-packages, so installed
requirements win), which gives the fetch ``requests`` and lets a requirement the worker already has
install without a download.

What reaches pip is data, never options:

* each requirement must be a PEP 508 requirement (``packaging``): ``pandas>=2``, ``pkg[extra]``,
  ``pkg @ https://...``; anything else (``--index-url ...``, ``-r file``) is refused before pip runs,
  naming the entry. They reach pip through a ``0600`` requirements file in the private folder, not
  the command line (which every local account can read);
* the package index comes from ``index_urls`` (an operator argument, never templated) or the
  ``peak_rest`` connection's ``index_urls`` extra, through pip's environment; the credentials in
  those URLs and in requirement URLs are registered with the secrets masker and never logged;
* pip and the fetch run with a minimal environment (``minimal_environment``): no
  ``AIRFLOW_CONN_*``, ``AIRFLOW__*``, cloud keys or anything else the worker holds.

Airflow's own virtualenv helper (``prepare_virtualenv``) is not used: it runs pip with the
worker's whole environment, logs the full command line, writes index URLs with their credentials
to a ``pip.conf`` in the virtualenv, and keeps nothing in a folder it checks.

The fetch runs in a child process (``venv_child.py``) that sends records, ``metadata.save`` calls and
401 refresh requests over a pipe; ``print`` output reaches the task log line by line. A failure to
install fails the task with the command to run by hand (credentials masked).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import shlex
import shutil
import site
import stat
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlsplit

from airflow_provider_peak.exceptions import FetchProcessError, PeakConfigError, UnsafePathError
from airflow_provider_peak.utils.redaction import (
    mask_url_credentials,
    register_secret,
    sanitize_url,
    scrub,
    url_credentials,
)
from airflow_provider_peak.utils.workdir import (
    check_private,
    open_private,
    private_dir,
    private_file,
    work_dir,
)

#: The folder under ``[peak] work_dir`` that holds the virtualenvs.
FOLDER = "venvs"
CHILD = Path(__file__).with_name("venv_child.py")
USER_CODE = Path(__file__).with_name("user_code.py")
#: The transport package: the child's session (origin rules, deadlines, bounded reads, the 401
#: refresh) comes from its Airflow-free modules, loaded by path.
TRANSPORT = Path(__file__).parent.parent / "transport"
#: Where ``json_default`` lives: the child writes records in the JSON form the destinations write.
SPOOL = Path(__file__).parent / "destinations" / "spool.py"
READY = ".peak-feed-ready"
REQUIREMENTS_FILE = ".peak-requirements.txt"

#: The variables pip and the fetch see of the worker's environment: how to find programs and the
#: home folder, the locale, the time zone, the temporary folder, proxies and CA certificates.
ENVIRONMENT = (
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "SYSTEMROOT",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
    "ALL_PROXY",
    "http_proxy",
    "https_proxy",
    "no_proxy",
    "all_proxy",
    "REQUESTS_CA_BUNDLE",
    "CURL_CA_BUNDLE",
    "SSL_CERT_FILE",
    "SSL_CERT_DIR",
)
#: Prefixes of the variables kept besides: the locale's categories (all), pip's settings (pip only).
ENVIRONMENT_PREFIXES = ("LC_",)
PIP_PREFIXES = ("PIP_",)


def minimal_environment(*, pip: bool = False, source: Mapping[str, str] | None = None) -> dict[str, str]:
    """The allow-listed part of ``source`` (the worker's environment): ``ENVIRONMENT`` and
    ``LC_*``, plus ``PIP_*`` for pip. Nothing else (connections, Airflow's configuration and Fernet
    key, cloud credentials) reaches pip or the fetch."""
    environ = os.environ if source is None else source
    prefixes = ENVIRONMENT_PREFIXES + (PIP_PREFIXES if pip else ())
    return {k: v for k, v in environ.items() if k in ENVIRONMENT or k.startswith(prefixes)}


def _interpreter(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


# ----------------------------------------------------------------------------- what pip is given
def parse_requirements(entries: Sequence[Any]) -> list[str]:
    """Each entry as a PEP 508 requirement (normalised text, sorted, duplicates dropped);
    ``PeakConfigError`` naming the first entry that is not one (a pip option in particular).
    Credentials in requirement URLs are registered with the secrets masker."""
    from packaging.requirements import InvalidRequirement, Requirement

    wanted: set[str] = set()
    for number, entry in enumerate(entries, 1):
        if entry is None or (isinstance(entry, str) and not entry.strip()):
            continue
        shown = mask_url_credentials(repr(entry)[:200])
        if not isinstance(entry, str):
            raise PeakConfigError(f"requirements entry {number} ({shown}) must be text")
        text = entry.strip()
        if text.startswith("-"):
            raise PeakConfigError(
                f"requirements entry {number} ({shown}) is a pip option; requirements may only "
                "name packages (PEP 508). Give the package index as index_urls (an operator "
                "argument) or the peak_rest connection's index_urls extra"
            )
        try:
            requirement = Requirement(text)
        except InvalidRequirement:
            raise PeakConfigError(
                f"requirements entry {number} ({shown}) is not a PEP 508 requirement "
                "(such as 'pandas>=2', 'pkg[extra]==1.2' or 'pkg @ https://host/pkg.whl')"
            ) from None
        if requirement.url:
            for secret in url_credentials(requirement.url):
                register_secret(secret)
        line = str(requirement)
        if "${" in line:  # pip replaces ${NAME} in a requirements file with an environment variable
            raise PeakConfigError(f"requirements entry {number} ({shown}) holds '${{': not in a requirement")
        wanted.add(line)
    return sorted(wanted)


def check_index_urls(urls: Sequence[Any] | None, where: str = "index_urls") -> list[str]:
    """``urls`` if each is an http(s) URL of a package index; their credentials are registered
    with the secrets masker. ``PeakConfigError`` naming the one that is not."""
    checked: list[str] = []
    for url in urls or ():
        shown = sanitize_url(str(url))[:200]
        parts = urlsplit(url) if isinstance(url, str) else None
        if (
            parts is None
            or parts.scheme not in ("http", "https")
            or not parts.hostname
            or any(ch.isspace() or ord(ch) < 32 for ch in url)
        ):
            raise PeakConfigError(f"{where}: {shown!r} is not an http(s) URL of a package index")
        for secret in url_credentials(url):
            register_secret(secret)
        checked.append(url)
    return checked


def cache_key(requirements: Sequence[str], inherit: bool, index_urls: Sequence[str] = ()) -> str:
    """The virtualenv's name: the Python, the requirements and the index (credentials left out)."""
    payload = json.dumps(
        {
            "python": sys.version,
            "requirements": sorted(mask_url_credentials(r) for r in requirements),
            "inherit": inherit,
            "index": [sanitize_url(u) for u in index_urls],
        }
    )
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    """One worker builds a given virtualenv at a time. The lock file is opened without following a
    symlink and never emptied."""
    fd = open_private(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _ready(root: Path) -> bool:
    """Whether ``root`` holds a finished virtualenv: its marker, read only once the folder itself
    is checked (the worker user's, writable by no one else)."""
    try:
        info = os.lstat(root)
    except FileNotFoundError:
        return False
    if not stat.S_ISDIR(info.st_mode):
        raise UnsafePathError(root, "is not a folder")
    check_private(root)
    try:
        with private_file(root / READY, "r"):
            return True
    except FileNotFoundError:
        return False


def ensure_venv(
    requirements: Sequence[str],
    *,
    cache_path: str | Path | None = None,
    inherit_worker_packages: bool = True,
    index_urls: Sequence[str] = (),
    logger: logging.Logger | None = None,
) -> Path:
    """The Python of a virtualenv with ``requirements`` installed, built once and then reused."""
    log = logger or logging.getLogger(__name__)
    wanted = parse_requirements(requirements)
    indexes = check_index_urls(index_urls)
    cache = private_dir(cache_path) if cache_path else work_dir(FOLDER)
    root = cache / f"venv-{cache_key(wanted, inherit_worker_packages, indexes)}"
    shown = ", ".join(mask_url_credentials(r) for r in wanted) or "no requirements"
    with _locked(root.with_name(root.name + ".lock")):
        if _ready(root):
            log.info("Using the cached virtualenv %s", root)
            return _interpreter(root)
        shutil.rmtree(root, ignore_errors=True)  # a half-built one from a killed worker
        log.info("Creating a virtualenv in %s for %s", root, shown)
        _run([sys.executable, "-m", "venv", str(root)], "create the virtualenv", env=minimal_environment())
        check_private(root)
        python = _interpreter(root)
        if inherit_worker_packages:
            target = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
                env=minimal_environment(),
            ).stdout.strip()
            # ``import`` lines of a .pth file run at start-up: addsitedir also honours the worker's own
            # .pth files (namespace packages), and appends, so the virtualenv's packages come first.
            lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
            with private_file(Path(target, "_peak_worker_packages.pth"), "x") as pth:
                pth.write("\n".join(lines) + "\n")
        if wanted:
            listing = root / REQUIREMENTS_FILE
            with private_file(listing, "x", encoding="utf-8") as handle:
                handle.write("\n".join(wanted) + "\n")
            env = minimal_environment(pip=True)
            if indexes:  # exactly these indexes, through pip's environment (not its command line)
                env.pop("PIP_EXTRA_INDEX_URL", None)
                env["PIP_INDEX_URL"] = indexes[0]
                if indexes[1:]:
                    env["PIP_EXTRA_INDEX_URL"] = " ".join(indexes[1:])
            base = [str(python), "-m", "pip", "install", "--disable-pip-version-check", "--no-input"]
            index_args = [f"--index-url={sanitize_url(indexes[0])}"] if indexes else []
            index_args += [f"--extra-index-url={sanitize_url(url)}" for url in indexes[1:]]
            by_hand = [*base, *index_args, *(mask_url_credentials(r) for r in wanted)]
            _run(
                [*base, "-r", str(listing)], "install the requirements", env=env, cleanup=root, shown=by_hand
            )
        with private_file(root / READY, "x") as marker:
            marker.write(json.dumps([mask_url_credentials(r) for r in wanted]))
        return python


def _run(
    command: list[str],
    what: str,
    *,
    env: Mapping[str, str],
    cleanup: Path | None = None,
    shown: list[str] | None = None,
) -> None:
    result = subprocess.run(command, capture_output=True, text=True, env=dict(env))
    if result.returncode != 0:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        text = "\n".join(mask_url_credentials(scrub(line)) for line in output)
        raise FetchProcessError(
            f"could not {what} (exit code {result.returncode}):\n"
            + text
            + f"\nRun it by hand to see why (credentials masked):\n  {shlex.join(shown or command)}"
        )


def _pump(stream: IO[str], logger: logging.Logger) -> None:
    for line in stream:
        logger.info("%s", line.rstrip("\n"))


def run_in_venv(
    python: Path,
    config: Mapping[str, Any],
    *,
    write: Callable[[Any], None],
    save: Callable[[Any], None],
    refresh_headers: Callable[[], Mapping[str, str]] | None,
    logger: logging.Logger,
) -> None:
    """Run the fetch described by ``config`` with ``python``; records go to ``write``, saves to ``save``.

    ``config``: ``kind`` (``script``/``callable``), ``source``, ``filename``, ``name`` (callable),
    ``state``, ``context`` and ``op_kwargs`` (JSON), ``session`` (``base_url``, ``provider_headers``,
    ``headers``, ``verify``, ``timeout``, ``refreshable``). Any exception raised by ``write`` or
    ``save`` (a preview that has enough records, an aborted run) stops the child and propagates.
    """
    read_fd, write_fd = os.pipe()
    env = {
        **minimal_environment(),
        "PEAK_FEED_FD": str(write_fd),
        "PEAK_FEED_USER_CODE": str(USER_CODE),
        "PEAK_FEED_TRANSPORT": str(TRANSPORT),
        "PEAK_FEED_SPOOL": str(SPOOL),
    }
    process = subprocess.Popen(
        [str(python), str(CHILD)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        pass_fds=(write_fd,),
        env=env,
        text=True,
    )
    os.close(write_fd)
    assert process.stdin is not None and process.stdout is not None
    pump = threading.Thread(
        target=_pump, args=(process.stdout, logger), name="peak-feed-venv-log", daemon=True
    )
    pump.start()
    error: dict[str, Any] | None = None
    done = False
    try:
        process.stdin.write(json.dumps(config) + "\n")
        process.stdin.flush()
        with os.fdopen(read_fd, "r", encoding="utf-8") as channel:
            for line in channel:
                kind, payload = line[0], json.loads(line[1:])
                if kind == "R":
                    write(payload)
                elif kind == "M":
                    save(payload)
                elif kind == "A":
                    headers = dict(refresh_headers()) if refresh_headers else {}
                    process.stdin.write(json.dumps(headers) + "\n")
                    process.stdin.flush()
                elif kind == "E":
                    error = payload
                elif kind == "D":
                    done = True
    except BaseException:
        process.kill()
        raise
    finally:
        with contextlib.suppress(OSError):
            process.stdin.close()
        process.wait()
        pump.join(timeout=5)
    if error is not None:
        raise FetchProcessError(
            f"the fetch raised {error['type']}: {error['message']}\n--- traceback in the virtualenv ---\n"
            + error["traceback"].rstrip()
        )
    if not done or process.returncode != 0:
        raise FetchProcessError(
            f"the fetch process ended with exit code {process.returncode} before finishing"
        )
