import pytest

from generator.exceptions import ArrayNotFound
from generator.tests.factories import create_array
from history import selectors


def create(stream="global", seed=1):
    return create_array(stream=stream, seed=seed, range_end=9, source="command")


def test_array_list_returns_newest_first_within_its_stream():
    for stream in ("a", "b", "a", "a"):
        create(stream)

    found = selectors.array_list(stream="a", limit=10)

    assert [record.seq for record in found] == [3, 2, 1]
    assert {record.stream for record in found} == {"a"}


def test_array_list_pages_back_with_before_seq():
    for _ in range(5):
        create()

    found = selectors.array_list(stream="global", before_seq=4, limit=2)

    assert [record.seq for record in found] == [3, 2]


def test_array_list_after_returns_oldest_first_up_to_the_limit():
    for _ in range(5):
        create()

    found = selectors.array_list_after(stream="global", after_seq=1, limit=3)

    assert [record.seq for record in found] == [2, 3, 4]


def test_array_get_finds_a_record_by_id():
    created = create(seed=5)

    record = selectors.array_get(array_id=str(created.record.id))

    assert record.seed == "5"


@pytest.mark.parametrize("array_id", ["", "not-an-id", "0" * 24])
def test_array_get_raises_not_found_for_unknown_ids(array_id):
    with pytest.raises(ArrayNotFound):
        selectors.array_get(array_id=array_id)


def test_array_queryset_filters_by_stream_newest_first():
    for stream in ("a", "b", "a", "c"):
        create(stream)

    assert [r.stream for r in selectors.array_queryset()] == ["c", "a", "b", "a"]
    assert [r.seq for r in selectors.array_queryset(stream="a")] == [2, 1]
