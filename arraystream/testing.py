"""Real servers for the tests and benchmarks: MongoDB-protocol, Daphne.

Each helper runs a real process on a free loopback port and can stop and
start it again on the same port, so tests can take a dependency away and
bring it back. `seq_of` reads the seq of the frames their clients receive.
"""

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from arraystream.embedded_mongo import is_listening, server_command

BASE_DIR = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_until(predicate, *, timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


class ServerProcess:
    """A server process on a fixed port that can be stopped and restarted."""

    name = "server"
    start_timeout = 20.0

    def __init__(self, *, port: int | None = None, log_path: Path | None = None):
        self.port = port or free_port()
        self.log_path = log_path
        self.process: subprocess.Popen | None = None

    def command(self) -> list[str]:
        raise NotImplementedError

    def environment(self) -> dict:
        return dict(os.environ)

    def start(self) -> "ServerProcess":
        output = open(self.log_path, "ab") if self.log_path else subprocess.DEVNULL
        self.process = subprocess.Popen(
            self.command(),
            cwd=BASE_DIR,
            env=self.environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
        if self.log_path:
            output.close()
        if not wait_until(self._up_or_dead, timeout=self.start_timeout):
            self.stop()
            raise RuntimeError(f"{self.name} did not listen on port {self.port}")
        if self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with {self.process.returncode}; "
                f"see {self.log_path}"
            )
        return self

    def _up_or_dead(self) -> bool:
        return is_listening(self.port) or self.process.poll() is not None

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.send_signal(sig)
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        wait_until(lambda: not is_listening(self.port), timeout=5)

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    @property
    def pid(self) -> int:
        return self.process.pid


class MongoServer(ServerProcess):
    """An nx-27017 MongoDB wire-protocol server over SQLite files."""

    name = "nx-27017"

    def __init__(self, *, data_dir: Path, **kwargs):
        super().__init__(**kwargs)
        self.data_dir = data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.log_path = self.log_path or data_dir / "server.out"

    def command(self) -> list[str]:
        return server_command(port=self.port, data_dir=self.data_dir)

    @property
    def uri(self) -> str:
        return f"mongodb://127.0.0.1:{self.port}/"


class DaphneServer(ServerProcess):
    """The project's ASGI application served by Daphne, as in production."""

    name = "daphne"

    def __init__(self, *, env: dict, inherit_env: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.extra_env = env
        self.inherit_env = inherit_env

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "daphne",
            # As deployed: the request log replaces Daphne's access log.
            "-v",
            "0",
            "-b",
            "127.0.0.1",
            "-p",
            str(self.port),
            "arraystream.asgi:application",
        ]

    def environment(self) -> dict:
        if not self.inherit_env:
            return dict(self.extra_env)
        return {**os.environ, **self.extra_env}

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}"


def seq_of(text: str) -> int:
    """Read a `new_array` frame's seq from its first bytes, not parsing the values."""
    start = text.find('"seq":', 0, 400) + 6
    return int(text[start : text.find(",", start)])
