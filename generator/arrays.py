"""Draw arrays of random integers and describe them. Pure NumPy, no Django."""

import os
from dataclasses import dataclass

import numpy as np

# Signed types only, so that the default range 0..99,999 is stored as int32
# and every stored dtype reads back the same in any language.
CANDIDATE_DTYPES = (np.int8, np.int16, np.int32, np.int64)
PREVIEW_LENGTH = 10


@dataclass(frozen=True)
class ArrayStats:
    min: int
    max: int
    mean: float
    std: float


def draw_seed() -> int:
    """Return a seed from 0 to 2**64 - 1 drawn from the OS's entropy source."""
    return int.from_bytes(os.urandom(8), "little")


def smallest_dtype(range_start: int, range_end: int) -> np.dtype:
    """Return the smallest signed integer type that holds both range ends."""
    for candidate in CANDIDATE_DTYPES:
        info = np.iinfo(candidate)
        if info.min <= range_start and range_end <= info.max:
            return np.dtype(candidate)
    raise ValueError(f"range {range_start}..{range_end} does not fit in int64")


def generate_values(
    *, size: int, range_start: int, range_end: int, seed: int
) -> np.ndarray:
    """Draw `size` integers from range_start to range_end, both inclusive.

    This is the reproducibility formula the README documents: anyone holding
    a record can call it with the record's fields and get the same values.
    """
    dtype = smallest_dtype(range_start, range_end)
    rng = np.random.default_rng(seed)
    return rng.integers(range_start, range_end, size, endpoint=True, dtype=dtype)


def describe(values: np.ndarray) -> ArrayStats:
    """Compute the summary statistics stored with every array."""
    return ArrayStats(
        min=int(values.min()),
        max=int(values.max()),
        mean=float(values.mean(dtype=np.float64)),
        std=float(values.std(dtype=np.float64)),
    )


def preview(values: np.ndarray) -> list[int]:
    return values[:PREVIEW_LENGTH].tolist()


def to_little_endian_bytes(values: np.ndarray) -> bytes:
    """Return the values as little-endian binary of their own dtype."""
    return values.astype(values.dtype.newbyteorder("<"), copy=False).tobytes()


def little_endian_buffer(values: np.ndarray) -> memoryview:
    """Return the bytes of `to_little_endian_bytes` as a buffer over the values.

    Nothing is copied unless the values are big-endian or not contiguous.
    """
    little_endian = values.astype(values.dtype.newbyteorder("<"), copy=False)
    return memoryview(np.ascontiguousarray(little_endian)).cast("B")


def from_little_endian_bytes(data: bytes, dtype: str) -> np.ndarray:
    """Read values written by `to_little_endian_bytes` (without copying)."""
    return np.frombuffer(data, dtype=np.dtype(dtype).newbyteorder("<"))
