"""Create arrays: draw the values, store the record, publish it."""

import logging
import time
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from bson import ObjectId
from django.conf import settings
from django.urls import reverse

from generator import arrays, broadcast, records, storage
from generator.documents import ArrayRecord, ArrayStats

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class CreatedArray:
    record: ArrayRecord
    values: np.ndarray
    # The record with its values, encoded once for the HTTP response.
    json: bytes
    # The channel-layer message announcing the array, so that a WebSocket
    # requester can hand it to its own process's clients without a detour.
    message: dict | None = None


def array_url(record_id: ObjectId) -> str:
    return reverse("array-detail", kwargs={"pk": str(record_id)})


def announced_by_url(size: int) -> bool:
    """Whether an array's broadcast carries the URL of its values, not them.

    Frames of tens of megabytes would stall every client and overflow Redis's
    buffer for a pub/sub subscriber (32 MB by default).
    """
    return size > settings.ARRAYSTREAM_BROADCAST_MAX_SIZE


def array_create(
    *,
    size: int,
    range_start: int,
    range_end: int,
    seed: int | None,
    stream: str,
    source: str,
    requester: dict | None = None,
) -> CreatedArray:
    """Generate one array, store it, publish it to its stream and return it.

    The values are stored before a seq is taken, so that a failed write
    never leaves a hole in a stream's seq numbers that clients would wait on.
    """
    started = time.perf_counter()
    if seed is None:
        seed = arrays.draw_seed()
    values = arrays.generate_values(
        size=size, range_start=range_start, range_end=range_end, seed=seed
    )
    stats = arrays.describe(values)

    record_id = ObjectId()
    stored_as = storage.save_values(record_id, values)
    try:
        record = ArrayRecord(
            id=record_id,
            stream=stream,
            seq=storage.next_seq(stream),
            size=size,
            range_start=range_start,
            range_end=range_end,
            seed=str(seed),
            dtype=values.dtype.name,
            stats=ArrayStats(**stats.__dict__),
            preview=arrays.preview(values),
            # MongoDB keeps milliseconds: keep the same here, so the record
            # returned now equals the one read back later.
            created_at=_now_to_milliseconds(),
            source=source,
            storage=stored_as,
        )
        storage.insert_record(record)
    except Exception:
        storage.delete_values(record_id, stored_as)
        raise

    record_json = records.encode(records.record_payload(record, values))
    if announced_by_url(size):
        broadcast_json = records.encode(
            records.record_payload(record, array_url=array_url(record_id))
        )
    else:
        broadcast_json = record_json
    message = broadcast.published_message(
        stream=stream,
        seq=record.seq,
        record_json=broadcast_json.decode(),
        requester=requester,
    )
    broadcast.publish(message)

    logger.info(
        "array stored id=%s stream=%s seq=%d size=%d source=%s ms=%.1f",
        record_id,
        stream,
        record.seq,
        size,
        source,
        (time.perf_counter() - started) * 1000,
    )
    return CreatedArray(
        record=record,
        values=values,
        json=record_json,
        message=message,
    )


def _now_to_milliseconds() -> datetime:
    now = datetime.now(timezone.utc)
    return now.replace(microsecond=now.microsecond // 1000 * 1000)
