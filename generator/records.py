"""Turn a stored record into its JSON shape and into WebSocket frames."""

import numpy as np
import orjson

from generator.documents import ArrayRecord
from generator.serializers import ArrayRecordSerializer


def record_payload(
    record: ArrayRecord,
    values: np.ndarray | None = None,
    *,
    array_url: str | None = None,
) -> dict:
    """Return the record as a dict; `array` stays a NumPy array for orjson."""
    payload = dict(ArrayRecordSerializer(record).data)
    payload["id"] = str(record.id)
    if values is not None:
        payload["array"] = values
    if array_url is not None:
        payload["array_url"] = array_url
    return payload


def encode(payload: dict) -> bytes:
    return orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY)


def new_array_frame(record_json: str, request_id=None) -> str:
    """Wrap an encoded record as a `new_array` frame without re-encoding it.

    The record's JSON object is spliced after a `type` key (and the
    requester's `request_id`), so the values are encoded once per array,
    however many clients receive it.
    """
    head = '{"type":"new_array",'
    if request_id is not None:
        head += '"request_id":' + orjson.dumps(request_id).decode() + ","
    return head + record_json[1:]
