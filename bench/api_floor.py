"""The floor of the generate benchmark: what any implementation has to do.

Draw the values with NumPy, insert their bytes once into the same server
(GridFS above the service's inline limit, as the service does), and encode
them as JSON with orjson. Nothing else: no validation, no seq, no record.
"""

import time

import gridfs
import numpy as np
import orjson
from bson import Binary, ObjectId

# The service's default range, which every array of the benchmark uses.
RANGE_START, RANGE_END = 0, 99_999


class Floor:
    """The least any implementation does: draw, insert once, encode as JSON."""

    def __init__(self, database, max_inline_bytes: int):
        self.collection = database["floor_values"]
        self.bucket = gridfs.GridFSBucket(database, bucket_name="floor_fs")
        self.max_inline_bytes = max_inline_bytes

    def run(self, *, size: int, seed: int) -> dict[str, float]:
        started = time.perf_counter()
        values = np.random.default_rng(seed).integers(
            RANGE_START, RANGE_END, size, endpoint=True, dtype=np.int32
        )
        drawn = time.perf_counter()
        data = values.tobytes()
        record_id = ObjectId()
        if len(data) <= self.max_inline_bytes:
            self.collection.insert_one({"_id": record_id, "data": Binary(data)})
        else:
            self.bucket.upload_from_stream_with_id(record_id, str(record_id), data)
        inserted = time.perf_counter()
        orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
        encoded = time.perf_counter()
        return {
            "draw": drawn - started,
            "insert": inserted - drawn,
            "json": encoded - inserted,
            "total": encoded - started,
        }
