"""Real servers and real WebSocket clients for the end-to-end stream tests.

`RedisServer` runs a private redis-server that a test may kill and restart.
`StreamClient` is one `websockets` client that records every frame it gets.
`ClientCrowd` holds many clients in worker processes, so that the test
process is not the bottleneck, and reports what each one received.
"""

import asyncio
import json
import multiprocessing
import socket
import time
from pathlib import Path

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from arraystream.testing import ServerProcess, seq_of

WAIT = 20.0


class RedisServer(ServerProcess):
    """A private redis-server on a free loopback port, keeping nothing on disk."""

    name = "redis-server"

    def __init__(self, *, data_dir: Path, **kwargs):
        super().__init__(log_path=data_dir / "redis.out", **kwargs)
        self.data_dir = data_dir

    def command(self) -> list[str]:
        return [
            "redis-server",
            "--port",
            str(self.port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(self.data_dir),
        ]

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"


def stream_url(server, stream: str, after_seq: int | None = None) -> str:
    """Return the WebSocket URL of a stream on a Daphne server."""
    query = "" if after_seq is None else f"?after_seq={after_seq}"
    return f"{server.ws_url}/ws/arrays/{stream}/{query}"


class StreamClient:
    """One real WebSocket client of a stream, recording what it receives."""

    def __init__(self, websocket, welcome: dict):
        self.websocket = websocket
        self.welcome = welcome
        self.seqs: list[int] = []
        self.own: dict = {}
        self.others: list[dict] = []
        self.close_code: int | None = None
        self.close_reason: str | None = None
        self._changed = asyncio.Event()
        self._reader: asyncio.Task | None = None

    @classmethod
    async def open(
        cls, server, stream: str, *, after_seq=None, read=True, receive_buffer=None
    ) -> "StreamClient":
        sock = None
        if receive_buffer:
            # A small kernel buffer makes a client that stops reading fall
            # behind after a few frames instead of a few megabytes.
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, receive_buffer)
            sock.connect(("127.0.0.1", server.port))
        websocket = await connect(
            stream_url(server, stream, after_seq),
            origin=server.url,
            compression=None,
            max_size=None,
            max_queue=4 if receive_buffer else 16,
            sock=sock,
            open_timeout=WAIT,
        )
        client = cls(websocket, json.loads(await websocket.recv()))
        if read:
            client.start_reading()
        return client

    def start_reading(self) -> None:
        self._reader = asyncio.create_task(self._read())

    async def _read(self) -> None:
        try:
            async for text in self.websocket:
                if text.startswith('{"type":"new_array"'):
                    self.seqs.append(seq_of(text))
                    if text.startswith('{"type":"new_array","request_id":'):
                        frame = json.loads(text)
                        self.own[frame["request_id"]] = frame["seq"]
                else:
                    self.others.append(json.loads(text))
                self._changed.set()
        except ConnectionClosed:
            pass
        self.close_code = self.websocket.close_code
        self.close_reason = self.websocket.close_reason
        self._changed.set()

    async def wait_until(self, predicate, timeout: float = WAIT) -> bool:
        deadline = time.monotonic() + timeout
        while not predicate():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._changed.clear()
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except asyncio.TimeoutError:
                return predicate()
        return True

    async def has_seq(self, seq: int, timeout: float = WAIT) -> bool:
        return await self.wait_until(lambda: seq in self.seqs, timeout)

    async def next_other(self, timeout: float = WAIT) -> dict:
        count = len(self.others)
        assert await self.wait_until(lambda: len(self.others) > count, timeout)
        return self.others[count]

    async def send(self, frame: dict) -> None:
        await self.websocket.send(json.dumps(frame))

    async def closed(self, timeout: float = WAIT) -> bool:
        return await self.wait_until(lambda: self.close_code is not None, timeout)

    async def close(self) -> None:
        await self.websocket.close()
        if self._reader is not None:
            await asyncio.wait_for(self._reader, WAIT)


# --- Many clients in worker processes ---------------------------------------------


def _crowd_worker(urls, expected: int, timeout: float, pipe) -> None:
    asyncio.run(_crowd(urls, expected, timeout, pipe))


async def _crowd(urls, expected, timeout, pipe) -> None:
    received = [[] for _ in urls]
    arrivals = [[] for _ in urls]
    finished = asyncio.Event()
    complete = 0

    async def read(index, websocket):
        nonlocal complete
        async for text in websocket:
            if text.startswith('{"type":"new_array"'):
                received[index].append(seq_of(text))
                arrivals[index].append(time.monotonic())
                if len(received[index]) == expected:
                    complete += 1
                    if complete == len(urls):
                        finished.set()

    sockets = []
    for url, origin in urls:
        websocket = await connect(url, origin=origin, compression=None, max_size=None)
        await websocket.recv()
        sockets.append(websocket)
    readers = [asyncio.create_task(read(i, ws)) for i, ws in enumerate(sockets)]
    pipe.send("ready")
    try:
        await asyncio.wait_for(finished.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    # A moment more, so that a duplicate after the last expected array shows.
    await asyncio.sleep(0.5)
    for reader in readers:
        reader.cancel()
    pipe.send((received, arrivals))
    for websocket in sockets:
        await websocket.close()


class ClientCrowd:
    """Clients of a stream spread over worker processes.

    Each worker reports once all its clients have `expected` arrays, or
    after `timeout` seconds, whichever comes first.
    """

    def __init__(self, urls, *, expected: int, timeout: float, workers: int = 2):
        context = multiprocessing.get_context("spawn")
        self.timeout = timeout
        self.pipes = []
        self.processes = []
        for worker in range(workers):
            parent, child = context.Pipe()
            process = context.Process(
                target=_crowd_worker,
                args=(urls[worker::workers], expected, timeout, child),
            )
            process.start()
            self.pipes.append(parent)
            self.processes.append(process)

    def wait_ready(self, timeout: float = 60) -> None:
        for pipe in self.pipes:
            assert pipe.poll(timeout), "the client workers did not connect"
            assert pipe.recv() == "ready"

    def results(self) -> tuple[list, list]:
        """Return every client's seqs and arrival times, once they are in."""
        received, arrivals = [], []
        for pipe in self.pipes:
            assert pipe.poll(self.timeout + 30), "the client workers did not report"
            seqs, times = pipe.recv()
            received += seqs
            arrivals += times
        for process in self.processes:
            process.join(10)
        return received, arrivals

    def kill(self) -> None:
        for process in self.processes:
            if process.is_alive():
                process.kill()


def log_has(path: Path, text: str) -> bool:
    """Tell whether a server's log file holds a text yet."""
    return path.exists() and text in path.read_text(errors="replace")
