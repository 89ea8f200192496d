"""Read and write arrays in MongoDB; driver errors become our own errors."""

import logging
from collections.abc import Iterator
from contextlib import contextmanager

import gridfs
import numpy as np
from bson import ObjectId
from mongoengine.connection import get_db
from mongoengine.errors import OperationError
from pymongo.errors import ConnectionFailure, PyMongoError

from generator import arrays
from generator.documents import (
    STORAGE_DOCUMENT,
    STORAGE_GRIDFS,
    ArrayRecord,
    ArrayValues,
    StreamCounter,
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


def save_values(record_id: ObjectId, values: np.ndarray) -> str:
    """Store the values under the record's id; return how they were stored."""
    data = arrays.to_little_endian_bytes(values)
    with storage_errors():
        if len(data) <= MAX_INLINE_BYTES:
            ArrayValues(id=record_id, data=data).save(force_insert=True)
            return STORAGE_DOCUMENT
        _bucket().upload_from_stream_with_id(record_id, str(record_id), data)
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
        counter = StreamCounter.objects(id=stream).modify(
            upsert=True, new=True, inc__seq=1
        )
    return counter.seq


def insert_record(record: ArrayRecord) -> None:
    with storage_errors():
        record.save(force_insert=True)


def latest_seq(stream: str) -> int:
    """Return the largest seq stored on a stream, 0 when it has none."""
    with storage_errors():
        newest = ArrayRecord.objects(stream=stream).order_by("-seq").only("seq")
        record = newest.first()
    return record.seq if record else 0


def ping() -> None:
    with storage_errors():
        get_db().command("ping")
