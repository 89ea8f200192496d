"""Read and write arrays in MongoDB; driver errors become our own errors."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gridfs
import numpy as np
from bson import Binary, ObjectId
from mongoengine.connection import get_db
from mongoengine.errors import OperationError
from pymongo import ReturnDocument
from pymongo.errors import ConnectionFailure, PyMongoError

from generator import arrays
from generator.documents import (
    STORAGE_DOCUMENT,
    STORAGE_GRIDFS,
    ArrayRecord,
    ArrayValues,
    StreamCounter,
    ensure_indexes,
)
from generator.exceptions import StorageFailed, StorageUnavailable

logger = logging.getLogger(__name__)

# Values above this many bytes go to GridFS. BSON documents stop at 16 MiB;
# the margin leaves room for the document's own fields.
MAX_INLINE_BYTES = 15 * 1024 * 1024
GRIDFS_BUCKET = "array_values_fs"


@contextmanager
def storage_errors() -> Iterator[None]:
    """Turn pymongo's errors into StorageUnavailable or StorageFailed."""
    try:
        yield
    except ConnectionFailure as error:
        # Covers server selection timeouts, refused connections and sockets
        # dropped mid-operation: MongoDB is down or out of reach.
        raise StorageUnavailable() from error
    except (PyMongoError, OperationError) as error:
        # MongoEngine wraps some driver errors (duplicate keys, refused
        # writes) in its own OperationError.
        raise StorageFailed(f"Storage failed: {error}") from error


def _bucket() -> gridfs.GridFSBucket:
    return gridfs.GridFSBucket(get_db(), bucket_name=GRIDFS_BUCKET)


class _BufferReader:
    """Read a buffer piece by piece, as GridFS reads the file it uploads."""

    def __init__(self, buffer: memoryview):
        self.buffer = buffer
        self.position = 0

    def read(self, size: int = -1) -> bytes:
        end = len(self.buffer) if size < 0 else self.position + size
        piece = self.buffer[self.position : end].tobytes()
        self.position += len(piece)
        return piece


def save_values(record_id: ObjectId, values: np.ndarray) -> str:
    """Store the values under the record's id; return how they were stored."""
    with storage_errors():
        if values.nbytes <= MAX_INLINE_BYTES:
            data = Binary(arrays.to_little_endian_bytes(values))
            # Straight to pymongo: for a document of two fields, MongoEngine's
            # save only adds Python work to every array.
            ArrayValues._get_collection().insert_one({"_id": record_id, "data": data})
            return STORAGE_DOCUMENT
        # GridFS reads its source in chunks: reading them straight from the
        # array spares a copy of all its bytes (40 MB for 10,000,000 int32
        # values) while pymongo buffers up to 32 MB of chunks of its own.
        source = _BufferReader(arrays.little_endian_buffer(values))
        _bucket().upload_from_stream_with_id(record_id, str(record_id), source)
        return STORAGE_GRIDFS


def delete_values(record_id: ObjectId, storage: str) -> None:
    """Remove values whose record could not be stored (best effort)."""
    try:
        if storage == STORAGE_GRIDFS:
            _bucket().delete(record_id)
        else:
            ArrayValues.objects(id=record_id).delete()
    except PyMongoError:
        logger.warning(
            "orphan values left id=%s storage=%s: remove them when MongoDB is "
            "back",
            record_id,
            storage,
        )


def load_values(record: ArrayRecord) -> np.ndarray:
    with storage_errors():
        if record.storage == STORAGE_GRIDFS:
            data = _bucket().open_download_stream(record.id).read()
        else:
            document = ArrayValues.objects(id=record.id).only("data").first()
            if document is None:
                raise StorageFailed(f"The values of array {record.id} are missing.")
            data = document.data
    return arrays.from_little_endian_bytes(data, record.dtype)


def next_seq(stream: str) -> int:
    """Hand out the next seq of a stream; a seq is never handed out twice."""
    with storage_errors():
        counter = StreamCounter._get_collection().find_one_and_update(
            {"_id": stream},
            {"$inc": {"seq": 1}},
            upsert=True,
            return_document=ReturnDocument.AFTER,
        )
    return counter["seq"]


_indexes_ensured = False


def ensure_indexes_once() -> None:
    """Create the indexes the first time this process writes a record.

    Not at start-up: the process must come up, and answer 503s, while
    MongoDB is still down. Creating an existing index is a no-op in MongoDB.
    """
    global _indexes_ensured
    if _indexes_ensured:
        return
    with storage_errors():
        ensure_indexes()
    _indexes_ensured = True


def insert_record(record: ArrayRecord) -> None:
    ensure_indexes_once()
    # Validated as `save` would, then inserted without save's bookkeeping
    # (signals, change tracking), which costs about 0.2 ms per array.
    record.validate()
    with storage_errors():
        ArrayRecord._get_collection().insert_one(record.to_mongo())


def latest_seq(stream: str) -> int:
    """Return the largest seq stored on a stream, 0 when it has none."""
    with storage_errors():
        newest = ArrayRecord.objects(stream=stream).order_by("-seq").only("seq")
        record = newest.first()
    return record.seq if record else 0


def ping() -> None:
    with storage_errors():
        get_db().command("ping")
