"""Start or attach to the embedded MongoDB wire-protocol server.

Development and the tests run without a MongoDB installation: the `nx-27017`
package speaks MongoDB's wire protocol over SQLite files. Every process of the
project (the web server, `manage.py` commands beside it) looks for one server
on a fixed loopback port: it attaches when one answers there, and otherwise
starts one and stops it again when it exits. Production sets MONGODB_URI and
never comes here.
"""

import atexit
import ctypes
import fcntl
import logging
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

logger = logging.getLogger(__name__)

HOST = "127.0.0.1"
START_TIMEOUT_SECONDS = 15.0
PR_SET_PDEATHSIG = 1


def is_listening(port: int, host: str = HOST) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def server_command(*, port: int, data_dir: Path, host: str = HOST) -> list[str]:
    """Return the command line that runs an nx-27017 server in the foreground."""
    return [
        sys.executable,
        "-m",
        "nx_27017.nx_27017",
        "--host",
        host,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir / "mongodb"),
        "--log-file",
        str(data_dir / "nx-27017.log"),
        # Only used by its daemon mode; kept inside the data folder so that
        # nothing is left behind in /tmp.
        "--pid-file",
        str(data_dir / "nx-27017.pid"),
    ]


def _die_with_parent() -> None:
    # Runs in the child between fork and exec: ask Linux to send SIGTERM to
    # the server if the process that started it dies, even by SIGKILL.
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(
            PR_SET_PDEATHSIG, signal.SIGTERM
        )
    except OSError:
        pass


def start_server(*, port: int, data_dir: Path) -> subprocess.Popen:
    """Start a server owned by this process and wait until it accepts clients."""
    try:
        import nx_27017  # noqa: F401
    except ImportError:
        raise ImproperlyConfigured(
            "MONGODB_URI is not set and the embedded server package nx-27017 is "
            "not installed. Set MONGODB_URI to your MongoDB, or install the "
            "development requirements (pip install -r requirements-dev.txt)."
        ) from None

    (data_dir / "mongodb").mkdir(parents=True, exist_ok=True)
    log_path = data_dir / "nx-27017.out"
    with open(log_path, "ab") as output:
        process = subprocess.Popen(
            server_command(port=port, data_dir=data_dir),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            preexec_fn=_die_with_parent if sys.platform == "linux" else None,
        )

    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while not is_listening(port):
        if process.poll() is not None:
            raise ImproperlyConfigured(
                f"The embedded MongoDB server exited with status "
                f"{process.returncode}; see {log_path}"
            )
        if time.monotonic() > deadline:
            process.kill()
            raise ImproperlyConfigured(
                f"The embedded MongoDB server did not listen on {HOST}:{port} "
                f"within {START_TIMEOUT_SECONDS:.0f} s; see {log_path}"
            )
        time.sleep(0.05)
    return process


def stop_server(process: subprocess.Popen) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


def ensure_embedded_server(*, port: int, data_dir: Path) -> str:
    """Attach to the embedded server, starting it if none runs; return its URI.

    A lock file serialises the check-then-start of processes that come up at
    the same moment. The lock is released by the kernel when the process
    ends, so a crash never leaves a stale lock behind.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    with open(data_dir / "nx-27017.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if is_listening(port):
            logger.info("embedded MongoDB attached port=%d", port)
        else:
            process = start_server(port=port, data_dir=data_dir)
            atexit.register(stop_server, process)
            logger.info(
                "embedded MongoDB started port=%d pid=%d data=%s",
                port,
                process.pid,
                data_dir,
            )
    return f"mongodb://{HOST}:{port}/"
