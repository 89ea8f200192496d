"""Read stored arrays back. Listing reads metadata only, never the values."""

from bson import ObjectId
from bson.errors import InvalidId

from generator.documents import ArrayRecord
from generator.exceptions import ArrayNotFound
from generator.storage import storage_errors

# The values live in another collection; `only` keeps a listing from
# fetching anything it will not show.
RECORD_FIELDS = (
    "id",
    "stream",
    "seq",
    "size",
    "range_start",
    "range_end",
    "seed",
    "dtype",
    "stats",
    "preview",
    "created_at",
    "source",
    "storage",
)


def array_list(
    *, stream: str, before_seq: int | None = None, limit: int = 10
) -> list[ArrayRecord]:
    """Return a stream's newest records first, below `before_seq` if given."""
    query = ArrayRecord.objects(stream=stream)
    if before_seq is not None:
        query = query.filter(seq__lt=before_seq)
    with storage_errors():
        return list(query.only(*RECORD_FIELDS).order_by("-seq").limit(limit))


def next_before_seq(found: list[ArrayRecord], *, limit: int) -> int | None:
    """Return the `before_seq` of the page older than `found`, or None.

    Only a full page may have older arrays behind it, and none is below seq 1.
    """
    if len(found) == limit and found[-1].seq > 1:
        return found[-1].seq
    return None


def array_list_after(*, stream: str, after_seq: int, limit: int) -> list[ArrayRecord]:
    """Return up to `limit` records of a stream after `after_seq`, oldest first."""
    query = ArrayRecord.objects(stream=stream, seq__gt=after_seq)
    with storage_errors():
        return list(query.only(*RECORD_FIELDS).order_by("seq").limit(limit))


def array_queryset(*, stream: str | None = None):
    """Return every record (of one stream, if given), newest first, lazily."""
    query = ArrayRecord.objects.only(*RECORD_FIELDS)
    if stream is not None:
        query = query.filter(stream=stream)
    return query.order_by("-id")


def array_get(*, array_id: str) -> ArrayRecord:
    try:
        object_id = ObjectId(array_id)
    except (InvalidId, TypeError):
        raise ArrayNotFound(f"No array has the id {array_id!r}.") from None
    with storage_errors():
        record = ArrayRecord.objects(id=object_id).first()
    if record is None:
        raise ArrayNotFound(f"No array has the id {array_id!r}.")
    return record
