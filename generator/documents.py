"""MongoEngine documents: the array record, its values and the seq counters.

A record's small metadata and its values live in separate collections, so
that reading history never touches the values. The values document shares
the record's `_id`; an array too large for one 16 MiB BSON document is kept
in GridFS under that same id instead.
"""

import mongoengine as me

SOURCES = ("api", "websocket", "command")
STORAGE_DOCUMENT = "document"
STORAGE_GRIDFS = "gridfs"


class ArrayStats(me.EmbeddedDocument):
    min = me.IntField(required=True)
    max = me.IntField(required=True)
    mean = me.FloatField(required=True)
    std = me.FloatField(required=True)


class ArrayRecord(me.Document):
    """One generated array's metadata, as listed by history."""

    stream = me.StringField(required=True, max_length=64)
    seq = me.IntField(required=True, min_value=1)
    size = me.IntField(required=True, min_value=1)
    range_start = me.IntField(required=True)
    range_end = me.IntField(required=True)
    # Seeds go up to 2**64 - 1, past BSON's signed 64-bit integers.
    seed = me.StringField(required=True, regex=r"^\d{1,20}$")
    dtype = me.StringField(required=True)
    stats = me.EmbeddedDocumentField(ArrayStats, required=True)
    preview = me.ListField(me.IntField(), required=True)
    created_at = me.DateTimeField(required=True)
    source = me.StringField(required=True, choices=SOURCES)
    storage = me.StringField(
        required=True, choices=(STORAGE_DOCUMENT, STORAGE_GRIDFS)
    )

    meta = {
        "collection": "arrays",
        "indexes": [
            {"fields": ("stream", "-seq"), "unique": True},
        ],
        # Indexes are created once by `ensure_indexes`, not on every save.
        "auto_create_index": False,
    }


class ArrayValues(me.Document):
    """The values of one array: little-endian binary of the record's dtype."""

    # The record's id, so a record and its values are found by one key.
    id = me.ObjectIdField(primary_key=True)
    data = me.BinaryField(required=True)

    meta = {
        # Not "values": the embedded development server rejects that name.
        "collection": "array_values",
        "auto_create_index": False,
    }


class StreamCounter(me.Document):
    """The last seq handed out on a stream, incremented atomically."""

    id = me.StringField(primary_key=True)
    seq = me.IntField(required=True, default=0)

    meta = {"collection": "stream_counters", "auto_create_index": False}


def ensure_indexes() -> None:
    ArrayRecord.ensure_indexes()
