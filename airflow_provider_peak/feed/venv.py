"""``requirements=[...]``: run the fetch in a cached virtualenv and stream its records back.

This is Peak's "Install dependency" field. As Airflow's virtualenv operators do, the packages are
installed into a virtualenv (``python -m venv`` + ``pip``), cached by a hash of the Python version
and the requirements under ``venv_cache_path``. The virtualenv also sees the worker's own packages
(a ``.pth`` file appended after its own site-packages, so installed requirements win), which gives
the fetch ``requests`` and lets a requirement the worker already has install without a download.

The fetch runs in a child process (``venv_child.py``) that sends records, ``metadata.save`` calls and
401 refresh requests over a pipe; ``print`` output reaches the task log line by line. A failure to
install fails the task with the exact command to run.
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
import subprocess
import sys
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from airflow_provider_peak.exceptions import FetchProcessError

DEFAULT_CACHE = Path(tempfile.gettempdir()) / "airflow-provider-peak" / "venvs"
CHILD = Path(__file__).with_name("venv_child.py")
USER_CODE = Path(__file__).with_name("user_code.py")
URLS = Path(__file__).parent.parent / "utils" / "urls.py"
#: Where ``json_default`` lives: the child writes records in the JSON form the destinations write.
SPOOL = Path(__file__).parent / "destinations" / "spool.py"
READY = ".peak-feed-ready"


def _interpreter(root: Path) -> Path:
    return root / ("Scripts/python.exe" if os.name == "nt" else "bin/python")


def cache_key(requirements: Sequence[str], inherit: bool) -> str:
    payload = json.dumps({"python": sys.version, "requirements": sorted(requirements), "inherit": inherit})
    return hashlib.sha256(payload.encode()).hexdigest()[:16]


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)  # one worker builds a given virtualenv at a time
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_venv(
    requirements: Sequence[str],
    *,
    cache_path: str | Path | None = None,
    inherit_worker_packages: bool = True,
    logger: logging.Logger | None = None,
) -> Path:
    """The Python of a virtualenv with ``requirements`` installed, built once and then reused."""
    log = logger or logging.getLogger(__name__)
    wanted = sorted({r.strip() for r in requirements if r and r.strip()})
    root = Path(cache_path or DEFAULT_CACHE) / f"venv-{cache_key(wanted, inherit_worker_packages)}"
    with _locked(root.with_name(root.name + ".lock")):
        if (root / READY).exists():
            log.info("Using the cached virtualenv %s", root)
            return _interpreter(root)
        shutil.rmtree(root, ignore_errors=True)  # a half-built one from a killed worker
        log.info("Creating a virtualenv in %s for %s", root, ", ".join(wanted))
        _run([sys.executable, "-m", "venv", str(root)], "create the virtualenv")
        python = _interpreter(root)
        if inherit_worker_packages:
            target = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                check=True,
                capture_output=True,
                text=True,
            ).stdout.strip()
            # ``import`` lines of a .pth file run at start-up: addsitedir also honours the worker's own
            # .pth files (namespace packages), and appends, so the virtualenv's packages come first.
            lines = [f"import site; site.addsitedir({path!r})" for path in site.getsitepackages()]
            Path(target, "_peak_worker_packages.pth").write_text("\n".join(lines) + "\n")
        if wanted:
            command = [
                str(python),
                "-m",
                "pip",
                "install",
                "--disable-pip-version-check",
                "--no-input",
                *wanted,
            ]
            _run(command, "install the requirements", cleanup=root)
        (root / READY).write_text(json.dumps(wanted))
        return python


def _run(command: list[str], what: str, cleanup: Path | None = None) -> None:
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
        output = (result.stdout + result.stderr).strip().splitlines()[-15:]
        raise FetchProcessError(
            f"could not {what} (exit code {result.returncode}):\n"
            + "\n".join(output)
            + f"\nRun it by hand to see why:\n  {shlex.join(command)}"
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
        **os.environ,
        "PEAK_FEED_FD": str(write_fd),
        "PEAK_FEED_USER_CODE": str(USER_CODE),
        "PEAK_FEED_URLS": str(URLS),
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
