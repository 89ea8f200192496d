"""Make stored arrays for tests, through the same service as every entry point."""

from generator.services import CreatedArray, array_create

DEFAULTS = {
    "size": 10_000,
    "range_start": 0,
    "range_end": 99_999,
    "seed": 1,
    "stream": "global",
    "source": "api",
}


def create_array(**fields) -> CreatedArray:
    """Generate, store and publish one array; any field may be overridden."""
    return array_create(**{**DEFAULTS, **fields})
