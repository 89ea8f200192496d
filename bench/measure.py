"""Small measuring tools for the benchmarks: percentiles, peak RSS, tables."""

import math
import os
import statistics
import threading
import time
from pathlib import Path

import psutil


def median(samples: list[float]) -> float:
    return statistics.median(samples)


def percentile(samples: list[float], fraction: float) -> float:
    """Return the nearest-rank percentile (with 3 samples, p95 is the largest)."""
    ordered = sorted(samples)
    rank = max(1, math.ceil(fraction * len(ordered)))
    return ordered[rank - 1]


def milliseconds(seconds: float) -> str:
    return f"{seconds * 1000:,.1f}"


def megabytes(size: float) -> str:
    return f"{size / 2**20:,.1f} MiB"


def load_average() -> str:
    one, five, _ = os.getloadavg()
    return (
        f"load average {one:.2f} (1 min) {five:.2f} (5 min) on {os.cpu_count()} cores"
    )


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    """Print rows under headers, the first column left-aligned, others right."""
    widths = [
        max(len(str(row[index])) for row in [headers, *rows])
        for index in range(len(headers))
    ]

    def line(cells):
        first = str(cells[0]).ljust(widths[0])
        rest = [str(cell).rjust(width) for cell, width in zip(cells[1:], widths[1:])]
        return "  ".join([first, *rest])

    print(line(headers))
    print("  ".join("-" * width for width in widths))
    for row in rows:
        print(line(row))


class PeakRSS:
    """Measure the peak resident memory of another process during a block.

    Linux keeps the high-water mark of a process's RSS (VmHWM) and lets its
    owner reset it, which catches peaks too short for sampling. psutil
    sampling runs beside it, as a cross-check and for systems without it.
    """

    def __init__(self, pid: int, *, interval: float = 0.002):
        self.pid = pid
        self.process = psutil.Process(pid)
        self.interval = interval
        self.before = 0
        self.sampled_peak = 0
        self.kernel_peak: int | None = None
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def __enter__(self) -> "PeakRSS":
        self.before = self.process.memory_info().rss
        self.sampled_peak = self.before
        self._kernel_mark_reset = _reset_high_water_mark(self.pid)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        self._thread.join()
        if self._kernel_mark_reset:
            self.kernel_peak = _high_water_mark(self.pid)

    @property
    def peak(self) -> int:
        return max(self.sampled_peak, self.kernel_peak or 0)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.sampled_peak = max(self.sampled_peak, self.process.memory_info().rss)
            self.samples += 1
            time.sleep(self.interval)


def _reset_high_water_mark(pid: int) -> bool:
    # Writing 5 to clear_refs sets VmHWM back to the current RSS (Linux 4.0+).
    try:
        Path(f"/proc/{pid}/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _high_water_mark(pid: int) -> int | None:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    return None
