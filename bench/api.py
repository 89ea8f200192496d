"""Benchmark the HTTP API against a floor measured in the same run.

Run it from the project folder with the project's virtual environment:

    .venv/bin/python -m bench.api

It starts an nx-27017 server in a temporary folder and the project under
Daphne, as production runs it, then prints three tables:

1. `POST /api/generate` at 10,000, 1,000,000 and 10,000,000 values beside a
   floor: NumPy drawing the same values, one pymongo insert of their bytes
   into the same server (GridFS above 15 MiB, as the service does), and
   orjson encoding them. Floor and service runs alternate, so that a change
   in the machine's load hits both alike.
2. The Daphne process's peak RSS during one 10,000,000-value request.
3. `GET /api/history?limit=10` with 50 and with 10,000 stored arrays.

Every loop is bounded in count and in time. `--quick` checks that the script
works in well under a minute; its figures are too few to compare.
"""

import argparse
import http.client
import os
import re
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import orjson
import psutil

from arraystream.testing import DaphneServer, MongoServer
from bench.api_floor import RANGE_END, RANGE_START, Floor
from bench.api_history import (
    HISTORY_MANY,
    HISTORY_REPETITIONS,
    measure_and_print_history,
)
from bench.measure import (
    PeakRSS,
    load_average,
    median,
    megabytes,
    milliseconds,
    percentile,
    print_table,
)

DATABASE = "arraystream_bench"
GENERATE_STREAM = "bench-generate"
WARM_UP_STREAM = "bench-warm-up"
MEMORY_SIZE = 10_000_000


@dataclass(frozen=True)
class GenerateCase:
    """One array size to time, with its bounds and its aim."""

    size: int
    repetitions: int
    seconds: float
    # The aim for the service's median over the floor's, if there is one.
    target: float | None


GENERATE_CASES = (
    GenerateCase(10_000, 30, 60.0, target=2.0),
    GenerateCase(1_000_000, 10, 90.0, target=2.0),
    GenerateCase(10_000_000, 3, 150.0, target=None),
)
QUICK_CASES = (
    GenerateCase(10_000, 5, 20.0, target=2.0),
    GenerateCase(1_000_000, 2, 30.0, target=2.0),
    GenerateCase(10_000_000, 1, 60.0, target=None),
)


class ApiClient:
    """One kept-alive HTTP/1.1 connection to the service."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def request(self, method: str, path: str, body: dict | None = None):
        """Send one request; return its status, body and seconds taken."""
        headers = {"Accept": "application/json"}
        encoded = None
        if body is not None:
            headers["Content-Type"] = "application/json"
            encoded = orjson.dumps(body)
        started = time.perf_counter()
        self.connection.request(method, path, body=encoded, headers=headers)
        response = self.connection.getresponse()
        content = response.read()
        elapsed = time.perf_counter() - started
        return response.status, content, elapsed

    def generate(self, **fields) -> tuple[bytes, float]:
        """Ask for one array; return the response body and seconds taken."""
        status, content, elapsed = self.request("POST", "/api/generate", fields)
        if status != 201:
            raise RuntimeError(f"POST /api/generate answered {status}: {content[:300]}")
        return content, elapsed

    def close(self) -> None:
        self.connection.close()


# The service's log lines for one generated array and for one request.
CREATE_LOG = re.compile(r"array stored id=\S+ .*? ms=([\d.]+)")
REQUEST_LOG = re.compile(
    r"request method=POST path=/api/generate status=201 ms=([\d.]+)"
)


@dataclass
class GenerateResult:
    """What was measured for one array size."""

    case: GenerateCase
    service: list[float] = field(default_factory=list)
    floor: list[dict[str, float]] = field(default_factory=list)
    # From the service's log: Django's whole handling of each request, and
    # array_create's share of it (draw, store, encode, publish).
    request_ms: list[float] = field(default_factory=list)
    create_ms: list[float] = field(default_factory=list)
    daphne_cpu: float = 0.0
    body_bytes: int = 0


def check_response(content: bytes, *, size: int, expected=None) -> None:
    """Fail loudly if the service answered something else than the array."""
    if f'"size":{size},'.encode() not in content[:2000]:
        raise RuntimeError(f"the response does not describe {size} values")
    if expected is not None:
        received = np.asarray(orjson.loads(content)["array"], dtype=np.int64)
        if not np.array_equal(received, expected):
            raise RuntimeError("the service's values differ from NumPy's for the seed")


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return times.user + times.system


def measure_generate(client, floor, cases, daphne) -> list[GenerateResult]:
    """Time each array size, alternating floor runs and service requests."""
    process = psutil.Process(daphne.pid)
    results = []
    for case in cases:
        result = GenerateResult(case)
        # One unmeasured round per size: first GridFS use, allocator growth.
        seed = case.size
        content, _ = client.generate(size=case.size, seed=seed, stream=GENERATE_STREAM)
        floor.run(size=case.size, seed=seed)
        expected = None
        if case.size == 10_000:
            expected = np.random.default_rng(seed).integers(
                RANGE_START, RANGE_END, case.size, endpoint=True, dtype=np.int32
            )
        check_response(content, size=case.size, expected=expected)
        result.body_bytes = len(content)

        log_start = daphne.log_path.stat().st_size
        cpu_before = cpu_seconds(process)
        deadline = time.monotonic() + case.seconds
        for _ in range(case.repetitions):
            if time.monotonic() > deadline:
                break
            seed += 1
            result.floor.append(floor.run(size=case.size, seed=seed))
            _, elapsed = client.generate(
                size=case.size, seed=seed, stream=GENERATE_STREAM
            )
            result.service.append(elapsed)
        result.daphne_cpu = (cpu_seconds(process) - cpu_before) / len(result.service)
        # Log lines are written before the response is sent, so they are all
        # in the file by now.
        with open(daphne.log_path, "rb") as log:
            log.seek(log_start)
            text = log.read().decode(errors="replace")
        result.create_ms = [float(ms) for ms in CREATE_LOG.findall(text)]
        result.request_ms = [float(ms) for ms in REQUEST_LOG.findall(text)]
        results.append(result)
    return results


def measure_round_trip(client, repetitions: int = 50) -> list[float]:
    """Time the cheapest request the project serves: Django's fixed cost."""
    client.request("GET", "/healthz")
    return [client.request("GET", "/healthz")[2] for _ in range(repetitions)]


def print_generate(results: list[GenerateResult], round_trip: list[float]) -> None:
    print("\nPOST /api/generate, client wall time in ms, beside the floor")
    rows = []
    for result in results:
        floor_totals = [run["total"] for run in result.floor]
        ratio = median(result.service) / median(floor_totals)
        ratio_p95 = percentile(result.service, 0.95) / percentile(floor_totals, 0.95)
        target = result.case.target
        verdict = "met" if target and ratio <= target else "MISSED"
        rows.append(
            [
                f"{result.case.size:,}",
                str(len(result.service)),
                milliseconds(median(result.service)),
                milliseconds(percentile(result.service, 0.95)),
                milliseconds(median(floor_totals)),
                milliseconds(percentile(floor_totals, 0.95)),
                f"{ratio:.2f}x",
                f"{ratio_p95:.2f}x",
                f"<= {target:g}x {verdict}" if target else "none",
            ]
        )
    print_table(
        [
            "values",
            "runs",
            "median",
            "p95",
            "floor med",
            "floor p95",
            "ratio med",
            "ratio p95",
            "target (median)",
        ],
        rows,
    )

    print("\nWhere the time goes, medians in ms")
    print_table(
        [
            "values",
            "client",
            "Django",
            "array_create",
            "Daphne CPU",
            "floor: draw",
            "insert",
            "json",
            "body",
        ],
        [
            [
                f"{result.case.size:,}",
                milliseconds(median(result.service)),
                logged_median(result.request_ms),
                logged_median(result.create_ms),
                milliseconds(result.daphne_cpu),
                *(
                    milliseconds(median([run[step] for run in result.floor]))
                    for step in ("draw", "insert", "json")
                ),
                megabytes(result.body_bytes),
            ]
            for result in results
        ],
    )
    print(
        "(client: as above; Django: the request as its log times it, "
        "middleware, DRF and view; array_create: drawing, storing, encoding "
        "and publishing, from the service's log; Daphne CPU: the server "
        "process's CPU time per request, all threads)"
    )
    print(
        "(GET /healthz, the cheapest request the project serves, takes "
        f"{milliseconds(median(round_trip))} ms)"
    )


def logged_median(figures: list[float]) -> str:
    return f"{median(figures):,.1f}" if figures else "?"


def measure_memory(client, daphne_pid: int) -> dict:
    """Return Daphne's RSS before one large request and at its peak."""
    with PeakRSS(daphne_pid) as rss:
        content, elapsed = client.generate(size=MEMORY_SIZE, stream=WARM_UP_STREAM)
    check_response(content, size=MEMORY_SIZE)
    return {
        "before": rss.before,
        "peak": rss.peak,
        "sampled_peak": rss.sampled_peak,
        "kernel_peak": rss.kernel_peak,
        "samples": rss.samples,
        "seconds": elapsed,
        "raw": MEMORY_SIZE * np.dtype(np.int32).itemsize,
    }


def print_memory(memory: dict) -> None:
    raw = memory["raw"]
    growth = memory["peak"] - memory["before"]
    source = "VmHWM" if memory["kernel_peak"] else "psutil sampling only"
    print(f"\nDaphne RSS for one {MEMORY_SIZE:,}-value request ({source})")
    print_table(
        ["measure", "bytes", "x raw array"],
        [
            ["raw array (int32)", megabytes(raw), "1.00x"],
            ["RSS before the request", megabytes(memory["before"]), ""],
            ["peak RSS", megabytes(memory["peak"]), f"{memory['peak'] / raw:.2f}x"],
            ["peak above before", megabytes(growth), f"{growth / raw:.2f}x"],
        ],
    )
    print(
        f"(target: peak above before < 5x raw: "
        f"{'met' if growth < 5 * raw else 'MISSED'}; psutil peak "
        f"{megabytes(memory['sampled_peak'])} over {memory['samples']} samples; "
        f"request took {milliseconds(memory['seconds'])} ms)"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="few repetitions: a smoke run"
    )
    options = parser.parse_args(argv)
    cases = QUICK_CASES if options.quick else GENERATE_CASES
    history_repetitions = 5 if options.quick else HISTORY_REPETITIONS

    print(f"ArrayStream HTTP API benchmark; start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="arraystream-bench-") as folder:
        folder = Path(folder)
        mongo = MongoServer(data_dir=folder / "mongodb").start()
        daphne = None
        try:
            environment = {
                "MONGODB_URI": mongo.uri,
                "MONGODB_DB": DATABASE,
                "SECRET_KEY": "bench",
                # The embedded default: the in-memory channel layer.
                "REDIS_URL": "",
                # High enough that no request of the benchmark is throttled.
                "ARRAYSTREAM_GENERATE_RATE": "100000/min",
            }
            os.environ.update(
                environment,
                ARRAYSTREAM_LOG_LEVEL="WARNING",
                DJANGO_SETTINGS_MODULE="arraystream.settings",
            )
            # Django is set up here, once the environment names the server,
            # so that this process stores history arrays with the project's
            # own documents.
            import django

            django.setup()
            from mongoengine.connection import get_db

            from generator.documents import ensure_indexes
            from generator.storage import MAX_INLINE_BYTES

            ensure_indexes()
            database = get_db()
            daphne = DaphneServer(
                env={**environment, "ARRAYSTREAM_LOG_LEVEL": "INFO"},
                log_path=folder / "daphne.log",
            ).start()
            print(
                f"nx-27017 pid {mongo.pid} port {mongo.port}; "
                f"Daphne pid {daphne.pid} port {daphne.port}"
            )
            run(
                client=ApiClient(daphne.port),
                daphne=daphne,
                database=database,
                floor=Floor(database, MAX_INLINE_BYTES),
                cases=cases,
                history_repetitions=history_repetitions,
                history_many=1_000 if options.quick else HISTORY_MANY,
            )
        finally:
            if daphne is not None:
                daphne.stop()
            mongo.stop()
    print(f"\nend: {load_average()}")
    return 0


def run(*, client, daphne, database, floor, cases, history_repetitions, history_many):
    """Measure and print the three tables against running servers."""
    # Warm up: imports, connections, the first write of each collection.
    for seed in range(3):
        client.generate(size=10_000, seed=seed, stream=WARM_UP_STREAM)
        floor.run(size=10_000, seed=seed)

    # Memory first, while the process has seen no large array yet, so that
    # memory kept by the allocator from earlier requests cannot hide a peak.
    memory = measure_memory(client, daphne.pid)
    results = measure_generate(client, floor, cases, daphne)
    print_generate(results, measure_round_trip(client))
    print_memory(memory)

    measure_and_print_history(
        client, database, repetitions=history_repetitions, many=history_many
    )
    client.close()


if __name__ == "__main__":
    sys.exit(main())
