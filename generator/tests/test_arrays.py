import numpy as np
import pytest

from generator import arrays


@pytest.mark.parametrize(
    ("range_start", "range_end", "expected"),
    [
        (0, 99_999, "int32"),
        (-128, 127, "int8"),
        (0, 128, "int16"),
        (-32_768, 32_767, "int16"),
        (0, 2**31, "int64"),
        (-(2**53 - 1), 2**53 - 1, "int64"),
    ],
)
def test_smallest_dtype_holds_both_range_ends(range_start, range_end, expected):
    assert arrays.smallest_dtype(range_start, range_end) == np.dtype(expected)


def test_generate_values_follows_the_documented_formula():
    values = arrays.generate_values(size=1000, range_start=-5, range_end=5, seed=42)

    expected = np.random.default_rng(42).integers(
        -5, 5, 1000, endpoint=True, dtype="int8"
    )
    np.testing.assert_array_equal(values, expected)
    assert values.dtype == np.dtype("int8")


def test_generate_values_includes_both_range_ends():
    values = arrays.generate_values(size=10_000, range_start=0, range_end=1, seed=1)

    assert set(np.unique(values).tolist()) == {0, 1}


def test_generate_values_accepts_the_largest_seed():
    seed = 2**64 - 1
    values = arrays.generate_values(size=10, range_start=0, range_end=9, seed=seed)

    rng = np.random.default_rng(seed)
    expected = rng.integers(0, 9, 10, endpoint=True, dtype=np.int8)
    assert values.tolist() == expected.tolist()


def test_draw_seed_gives_different_64_bit_seeds():
    seeds = {arrays.draw_seed() for _ in range(20)}

    assert len(seeds) == 20
    assert all(0 <= seed < 2**64 for seed in seeds)


def test_describe_computes_stats_as_numpy_does():
    values = np.array([1, 2, 3, 10], dtype=np.int32)

    stats = arrays.describe(values)

    assert (stats.min, stats.max) == (1, 10)
    assert stats.mean == pytest.approx(4.0)
    assert stats.std == pytest.approx(float(np.std(values)))
    assert isinstance(stats.min, int) and isinstance(stats.mean, float)


def test_little_endian_bytes_round_trip_every_dtype():
    for dtype in arrays.CANDIDATE_DTYPES:
        values = np.arange(-50, 50, dtype=dtype)

        data = arrays.to_little_endian_bytes(values)
        restored = arrays.from_little_endian_bytes(data, np.dtype(dtype).name)

        assert len(data) == values.nbytes
        np.testing.assert_array_equal(restored, values)


def test_little_endian_bytes_are_little_endian_even_for_big_endian_input():
    values = np.array([1, 256], dtype=">i4")

    data = arrays.to_little_endian_bytes(values)

    assert data == b"\x01\x00\x00\x00\x00\x01\x00\x00"


@pytest.mark.parametrize(
    "values",
    [
        np.arange(-100, 100, dtype=np.int8),
        np.arange(-100, 100, dtype=np.int64),
        np.array([1, 256, -7], dtype=">i4"),
        np.arange(40, dtype=np.int16)[::3],
    ],
    ids=["int8", "int64", "big-endian", "not-contiguous"],
)
def test_little_endian_buffer_holds_the_same_bytes_as_the_copy(values):
    buffer = arrays.little_endian_buffer(values)

    assert buffer.tobytes() == arrays.to_little_endian_bytes(values)
