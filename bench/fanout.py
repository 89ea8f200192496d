"""Benchmark WebSocket fan-out against a bare `websockets` floor, in one run.

Run it from the project folder with the project's virtual environment:

    .venv/bin/python -m bench.fanout

It starts an nx-27017 server in a temporary folder, the project under
Daphne with the Redis channel layer (as production runs it; `--layer
memory` for the in-memory layer), and the floor of `bench.fanout_floor`.
Two client processes hold the clients, half each, so that the client side is
not what is measured. Then it prints:

1. Fan-out time: from sending a `generate_array` of 10,000 values until the
   last of N clients has its `new_array` (N = 10, 100, 500), median and p95,
   the floor and ArrayStream alternating request by request.
2. Sustained rate: arrays per second delivered to every one of 100 clients
   over 10 seconds, with requests kept in flight.
3. The Daphne process's memory before, at the peak of and after that run.

Every loop is bounded in count and in time. `--quick` checks that the script
works; its figures are too few to compare.
"""

import argparse
import asyncio
import multiprocessing
import os
import sys
import tempfile
import threading
import time
import uuid
from collections import defaultdict
from pathlib import Path

import psutil
from websockets.asyncio.client import connect

from arraystream.testing import DaphneServer, MongoServer, ServerProcess, seq_of
from bench.measure import (
    PeakRSS,
    load_average,
    median,
    megabytes,
    milliseconds,
    percentile,
    print_table,
)

SIZE = 10_000
CLIENT_COUNTS = (10, 100, 500)
RATE_CLIENTS = 100
RATE_SECONDS = 10.0
# Requests kept in flight during the rate run.
RATE_WINDOW = 8
REPETITIONS = 30
QUICK_REPETITIONS = 5
WAIT_SECONDS = 30.0
WORKERS = 2
DATABASE = "arraystream_bench_fanout"
SERVERS = ("floor", "arraystream")


class FloorServer(ServerProcess):
    """The bare `websockets` server of bench.fanout_floor."""

    name = "fan-out floor"

    def __init__(self, *, mongodb_uri: str, **kwargs):
        super().__init__(**kwargs)
        self.mongodb_uri = mongodb_uri

    def command(self) -> list[str]:
        return [
            sys.executable,
            "-m",
            "bench.fanout_floor",
            "--port",
            str(self.port),
            "--mongodb-uri",
            self.mongodb_uri,
        ]


# --- Client processes ---------------------------------------------------------


def client_worker(targets: list[tuple[str, str, str, int]], pipe) -> None:
    """Hold clients of each (server, url, origin, count); report full arrivals."""
    asyncio.run(_client_worker(targets, pipe))


async def _client_worker(targets, pipe) -> None:
    expected = {server: count for server, _, _, count in targets}
    arrivals: dict[tuple[str, int], list] = {}
    sockets = []

    async def read(server, websocket):
        async for text in websocket:
            if not text.startswith('{"type":"new_array"'):
                continue
            arrived = time.monotonic()
            key = (server, seq_of(text))
            entry = arrivals.setdefault(key, [0, 0.0])
            entry[0] += 1
            entry[1] = arrived
            if entry[0] == expected[server]:
                del arrivals[key]
                pipe.send(("done", server, key[1], arrived))

    readers = []
    for server, url, origin, count in targets:
        for _ in range(count):
            websocket = await connect(
                url, origin=origin, compression=None, max_size=None, open_timeout=30
            )
            await websocket.recv()
            sockets.append(websocket)
            readers.append(asyncio.create_task(read(server, websocket)))
    pipe.send(("ready",))
    await asyncio.get_running_loop().run_in_executor(None, pipe.recv)
    for websocket in sockets:
        await websocket.close()
    for reader in readers:
        reader.cancel()


class Clients:
    """N clients of each server, spread over client processes."""

    def __init__(self, loop, urls: dict[str, tuple[str, str]], count: int):
        self.loop = loop
        self.count = count
        self.reports: dict[tuple[str, int], list[float]] = defaultdict(list)
        self.waiters: dict[tuple[str, int], asyncio.Future] = {}
        self.processes = []
        self.pipes = []
        context = multiprocessing.get_context("spawn")
        for worker in range(WORKERS):
            share = count // WORKERS + (1 if worker < count % WORKERS else 0)
            targets = [
                (name, url, origin, share) for name, (url, origin) in urls.items()
            ]
            parent, child = context.Pipe()
            process = context.Process(target=client_worker, args=(targets, child))
            process.start()
            self.processes.append(process)
            self.pipes.append(parent)
        self.ready = [threading.Event() for _ in self.pipes]
        for index, pipe in enumerate(self.pipes):
            threading.Thread(target=self._read, args=(index, pipe), daemon=True).start()

    def _read(self, index, pipe) -> None:
        while True:
            try:
                message = pipe.recv()
            except (EOFError, OSError):
                return
            if message[0] == "ready":
                self.ready[index].set()
            else:
                self.loop.call_soon_threadsafe(self._report, *message[1:])

    def _report(self, server: str, seq: int, arrived: float) -> None:
        key = (server, seq)
        self.reports[key].append(arrived)
        waiter = self.waiters.get(key)
        if waiter and len(self.reports[key]) == WORKERS and not waiter.done():
            waiter.set_result(max(self.reports[key]))

    async def wait_ready(self) -> None:
        for event in self.ready:
            if not await asyncio.to_thread(event.wait, 120):
                raise RuntimeError("client processes did not connect in 120 s")

    async def last_arrival(self, server: str, seq: int) -> float:
        """Return when the last client got the array `seq` of `server`."""
        key = (server, seq)
        if len(self.reports[key]) == WORKERS:
            return max(self.reports[key])
        waiter = self.waiters[key] = self.loop.create_future()
        return await asyncio.wait_for(waiter, WAIT_SECONDS)

    def full_arrivals(self, server: str) -> list[float]:
        return [
            max(times)
            for (name, _), times in self.reports.items()
            if name == server and len(times) == WORKERS
        ]

    def close(self) -> None:
        for pipe in self.pipes:
            pipe.send(("close",))
        for process in self.processes:
            process.join(30)
            if process.is_alive():
                process.kill()


class Driver:
    """The client that asks for arrays and recognizes its own by request_id."""

    def __init__(self, websocket):
        self.websocket = websocket
        self.numbers = iter(range(1, 10**9))
        self.own: asyncio.Queue = asyncio.Queue()
        self.reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, url: str, origin: str) -> "Driver":
        websocket = await connect(url, origin=origin, compression=None, max_size=None)
        await websocket.recv()
        return cls(websocket)

    async def _read(self) -> None:
        prefix = '"request_id":"driver-'
        async for text in self.websocket:
            head = text[:300]
            if '"type":"error"' in head:
                raise RuntimeError(f"the server refused a request: {text[:300]}")
            if text.startswith('{"type":"new_array"') and prefix in head:
                await self.own.put(seq_of(text))

    def request(self) -> None:
        frame = f'{{"type":"generate_array","size":{SIZE},"request_id":"driver-'
        asyncio.ensure_future(self.websocket.send(f'{frame}{next(self.numbers)}"}}'))

    async def generate(self) -> int:
        self.request()
        return await asyncio.wait_for(self.own.get(), WAIT_SECONDS)

    async def close(self) -> None:
        self.reader.cancel()
        await self.websocket.close()


# --- Measurements -----------------------------------------------------------


async def measure_fan_out(urls, count: int, repetitions: int) -> dict[str, list]:
    clients = Clients(asyncio.get_running_loop(), urls, count)
    drivers = {}
    try:
        await clients.wait_ready()
        drivers = {name: await Driver.open(*urls[name]) for name in SERVERS}
        times = {name: [] for name in SERVERS}
        for repetition in range(repetitions + 2):
            for name in SERVERS:
                started = time.monotonic()
                seq = await drivers[name].generate()
                arrived = await clients.last_arrival(name, seq)
                if repetition >= 2:  # the first two warm up
                    times[name].append(arrived - started)
                await asyncio.sleep(0.05)
        return times
    finally:
        for driver in drivers.values():
            await driver.close()
        clients.close()


async def measure_rate(urls, daphne_pid: int) -> dict:
    clients = Clients(asyncio.get_running_loop(), urls, RATE_CLIENTS)
    results = {}
    try:
        await clients.wait_ready()
        for name in SERVERS:
            driver = await Driver.open(*urls[name])
            rss_before = psutil.Process(daphne_pid).memory_info().rss
            with PeakRSS(daphne_pid, interval=0.05) as peak:
                started = time.monotonic()
                deadline = started + RATE_SECONDS
                for _ in range(RATE_WINDOW):
                    driver.request()
                while time.monotonic() < deadline:
                    try:
                        await asyncio.wait_for(driver.own.get(), WAIT_SECONDS)
                    except asyncio.TimeoutError:
                        break
                    driver.request()
                await asyncio.sleep(1.0)
            delivered = [
                at for at in clients.full_arrivals(name) if started <= at <= deadline
            ]
            await driver.close()
            await asyncio.sleep(1.0)
            results[name] = {
                "rate": len(delivered) / RATE_SECONDS,
                "rss_before": rss_before,
                "rss_peak": peak.peak,
                "rss_after": psutil.Process(daphne_pid).memory_info().rss,
            }
        return results
    finally:
        clients.close()


def ratio(value: float, floor: float) -> str:
    return f"{value / floor:.2f}x" if floor else "-"


async def run(options) -> None:
    workdir = Path(tempfile.mkdtemp(prefix="bench-fanout-"))
    stream = f"bench-fanout-{uuid.uuid4().hex[:8]}"
    mongo = MongoServer(data_dir=workdir / "mongo").start()
    env = {
        "MONGODB_URI": mongo.uri,
        "MONGODB_DB": DATABASE,
        "SECRET_KEY": "bench-fanout-not-secret",
        "ARRAYSTREAM_WS_GENERATE_RATE": "1000000/s",
        "ARRAYSTREAM_LOG_LEVEL": "WARNING",
    }
    if options.layer == "redis":
        env["REDIS_URL"] = options.redis_url
    daphne = DaphneServer(env=env, log_path=workdir / "daphne.log")
    floor = FloorServer(mongodb_uri=mongo.uri, log_path=workdir / "floor.log")
    repetitions = QUICK_REPETITIONS if options.quick else REPETITIONS
    counts = (10, 100) if options.quick else CLIENT_COUNTS
    try:
        daphne.start()
        floor.start()
        urls = {
            "floor": (
                f"ws://127.0.0.1:{floor.port}/",
                f"http://127.0.0.1:{floor.port}",
            ),
            "arraystream": (f"{daphne.ws_url}/ws/arrays/{stream}/", daphne.url),
        }
        print(f"fan-out of {SIZE:,}-value arrays; channel layer: {options.layer}")
        print(load_average())
        rows = []
        for count in counts:
            times = await measure_fan_out(urls, count, repetitions)
            floor_median = median(times["floor"])
            ours_median = median(times["arraystream"])
            rows.append(
                [
                    str(count),
                    milliseconds(floor_median),
                    milliseconds(percentile(times["floor"], 0.95)),
                    milliseconds(ours_median),
                    milliseconds(percentile(times["arraystream"], 0.95)),
                    ratio(ours_median, floor_median),
                ]
            )
        print()
        print(f"Fan-out time, ms ({repetitions} arrays each, after 2 warm-up)")
        print_table(
            [
                "clients",
                "floor median",
                "floor p95",
                "ArrayStream median",
                "ArrayStream p95",
                "ratio (median)",
            ],
            rows,
        )
        rates = await measure_rate(urls, daphne.pid)
        print()
        print(
            f"Sustained rate to all of {RATE_CLIENTS} clients over "
            f"{RATE_SECONDS:.0f} s ({RATE_WINDOW} requests in flight)"
        )
        print_table(
            ["server", "arrays/s", "of the floor's"],
            [
                ["floor", f"{rates['floor']['rate']:.1f}", "1.00x"],
                [
                    "ArrayStream",
                    f"{rates['arraystream']['rate']:.1f}",
                    ratio(rates["arraystream"]["rate"], rates["floor"]["rate"]),
                ],
            ],
        )
        ours = rates["arraystream"]
        print()
        print(
            "Daphne RSS during the ArrayStream rate run: "
            f"before {megabytes(ours['rss_before'])}, peak "
            f"{megabytes(ours['rss_peak'])}, after {megabytes(ours['rss_after'])}"
        )
        print(load_average())
    finally:
        floor.stop()
        daphne.stop()
        mongo.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="few repetitions")
    parser.add_argument("--layer", choices=("redis", "memory"), default="redis")
    parser.add_argument(
        "--redis-url",
        default=os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
    )
    asyncio.run(run(parser.parse_args()))


if __name__ == "__main__":
    main()
