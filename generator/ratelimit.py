"""A token bucket for per-connection limits written like "20/s" or "600/min"."""

import time

from django.core.exceptions import ImproperlyConfigured

PERIODS = {
    "s": 1.0,
    "sec": 1.0,
    "second": 1.0,
    "m": 60.0,
    "min": 60.0,
    "minute": 60.0,
    "h": 3600.0,
    "hour": 3600.0,
    "d": 86400.0,
    "day": 86400.0,
}


def parse_rate(text: str, *, setting: str) -> tuple[int, float]:
    """Return (requests, seconds) from a rate such as "20/s"."""
    number, _, unit = text.strip().partition("/")
    if not number.isdigit() or int(number) < 1 or unit not in PERIODS:
        raise ImproperlyConfigured(
            f"{setting} must be a number of requests per s, min, hour or day, "
            f"such as 20/s or 600/min; got {text!r}"
        )
    return int(number), PERIODS[unit]


class RateLimit:
    """Allow `requests` per `seconds`, in bursts of up to `requests`."""

    def __init__(self, requests: int, seconds: float):
        self.capacity = requests
        self.refill_per_second = requests / seconds
        self.tokens = float(requests)
        self.updated = time.monotonic()

    def take(self) -> float:
        """Take one request: 0 when allowed, else the seconds until one is."""
        now = time.monotonic()
        self.tokens = min(
            self.capacity,
            self.tokens + (now - self.updated) * self.refill_per_second,
        )
        self.updated = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.refill_per_second
