"""The web page at `/`: the generate form, the live stream and its history.

The page is rendered complete on the server, recent history included, so it
reads without JavaScript; its script then talks to the server only through
the public API (`POST /api/generate`, the array detail URLs) and the
WebSocket stream.
"""

import logging
import re

from django.conf import settings
from django.shortcuts import render
from django.urls import reverse

from generator import records
from generator.exceptions import ArrayStreamError
from generator.serializers import (
    DEFAULT_RANGE_END,
    DEFAULT_RANGE_START,
    DEFAULT_STREAM,
    MAX_SEED,
    SAFE_INTEGER,
    STREAM_PATTERN,
)
from history import selectors

logger = logging.getLogger(__name__)

# How many past arrays the page lists; the script keeps the same number.
RECENT_LENGTH = 12

# The thumbnail of a history entry: a sparkline of the stored preview drawn
# over the band mean +/- std, both scaled to the requested range.
THUMBNAIL_WIDTH = 96
THUMBNAIL_HEIGHT = 32
THUMBNAIL_PAD = 3

# Parts of an entry only the template uses.
SCRIPT_SKIPS = {"thumbnail", "links", "created_display", "created_time"}

# Stand-in id put into reversed URLs; the script swaps in a real one.
ID_PLACEHOLDER = "0" * 24


def stream_error(stream: str) -> str | None:
    """Return why `stream` is not a valid stream name, or None if it is."""
    if re.fullmatch(STREAM_PATTERN, stream):
        return None
    shown = stream if len(stream) <= 80 else stream[:80] + "…"
    return (
        "A stream name is 1 to 64 characters of a-z, 0-9, - and _; "
        f"got {shown!r}. Pick another name below."
    )


def _scale(value: float, low: int, high: int) -> float:
    """Map `value` in low..high to a y coordinate inside the thumbnail."""
    inner = THUMBNAIL_HEIGHT - 2 * THUMBNAIL_PAD
    share = 0.5 if high == low else (value - low) / (high - low)
    share = min(max(share, 0.0), 1.0)
    return round(THUMBNAIL_HEIGHT - THUMBNAIL_PAD - share * inner, 2)


def thumbnail(payload: dict) -> dict:
    """Return the geometry of a record's thumbnail, in SVG user units."""
    low, high = payload["range_start"], payload["range_end"]
    preview = payload["preview"]
    stats = payload["stats"]
    step = (THUMBNAIL_WIDTH - 2 * THUMBNAIL_PAD) / max(len(preview) - 1, 1)
    points = " ".join(
        f"{round(THUMBNAIL_PAD + index * step, 2)},{_scale(value, low, high)}"
        for index, value in enumerate(preview)
    )
    band_top = _scale(stats["mean"] + stats["std"], low, high)
    band_bottom = _scale(stats["mean"] - stats["std"], low, high)
    return {
        **blank_thumbnail(),
        "points": points,
        "mean_y": _scale(stats["mean"], low, high),
        "band_y": band_top,
        "band_height": round(band_bottom - band_top, 2),
    }


def blank_thumbnail() -> dict:
    """Return the frame of a thumbnail with nothing drawn in it yet."""
    return {
        "width": THUMBNAIL_WIDTH,
        "height": THUMBNAIL_HEIGHT,
        "frame_width": THUMBNAIL_WIDTH - 1,
        "frame_height": THUMBNAIL_HEIGHT - 1,
        "inner_width": THUMBNAIL_WIDTH - 2,
        "points": "",
        "mean_y": 0,
        "band_y": 0,
        "band_height": 0,
    }


def array_links(array_id: str) -> dict:
    """Return the detail and download URLs of one array."""
    detail = reverse("array-detail", kwargs={"pk": array_id})
    return {
        "detail": detail,
        "json": f"{detail}?format=json",
        "csv": f"{detail}?format=csv",
        "npy": f"{detail}?format=npy",
    }


def created_display(created_at: str) -> str:
    """Return an ISO 8601 UTC time as `2025-01-31 12:00:00 UTC`."""
    return created_at[:19].replace("T", " ") + " UTC"


def history_entry(record) -> dict:
    """Return what a history entry shows: the record, its thumbnail, links."""
    payload = records.record_payload(record)
    return {
        **payload,
        "created_display": created_display(payload["created_at"]),
        "created_time": payload["created_at"][11:19],
        "thumbnail": thumbnail(payload),
        "links": array_links(payload["id"]),
    }


def blank_entry() -> dict:
    """Return an empty entry: the markup the script fills for new arrays."""
    return {"thumbnail": blank_thumbnail(), "links": {}}


def form_fields() -> dict:
    """Return the generate form's defaults and bounds, as the API has them."""
    return {
        "size": {
            "default": settings.ARRAYSTREAM_MIN_SIZE,
            "min": settings.ARRAYSTREAM_MIN_SIZE,
            "max": settings.ARRAYSTREAM_MAX_SIZE,
        },
        "range_start": {
            "default": DEFAULT_RANGE_START,
            "min": -SAFE_INTEGER,
            "max": SAFE_INTEGER,
        },
        "range_end": {
            "default": DEFAULT_RANGE_END,
            "min": -SAFE_INTEGER,
            "max": SAFE_INTEGER,
        },
        "seed": {"min": 0, "max": MAX_SEED, "max_digits": len(str(MAX_SEED))},
    }


def _script_record(entry: dict) -> dict:
    """Return an entry as the script reads it, the seed as exact digits."""
    fields = {key: entry[key] for key in entry if key not in SCRIPT_SKIPS}
    fields["seed"] = str(entry["seed"])
    return fields


def home(request):
    """Render the page of one stream, `?stream=NAME` or the global stream."""
    stream = request.GET.get("stream", DEFAULT_STREAM)
    problem = stream_error(stream)
    status = 200
    recent = []
    if problem:
        logger.warning("page refused stream=%r", stream[:80])
        status = 400
    else:
        try:
            found = selectors.array_list(stream=stream, limit=RECENT_LENGTH)
            recent = [history_entry(record) for record in found]
        except ArrayStreamError as error:
            problem = f"The history could not be read. {error.message}"
            status = error.status

    latest = recent[0] if recent else None
    config = {
        "stream": None if status == 400 else stream,
        "latest_seq": latest["seq"] if latest else 0,
        "latest": _script_record(latest) if latest else None,
        "recent_length": RECENT_LENGTH,
        "generate_url": reverse("generate"),
        "history_url": reverse("history-api"),
        "array_url": reverse("array-detail", kwargs={"pk": ID_PLACEHOLDER}),
        "id_placeholder": ID_PLACEHOLDER,
        "websocket_path": "/ws/arrays/{stream}/",
        "thumbnail": {
            "width": THUMBNAIL_WIDTH,
            "height": THUMBNAIL_HEIGHT,
            "pad": THUMBNAIL_PAD,
        },
    }
    context = {
        # Links in the page name the stream only when it can exist.
        "stream": stream if status != 400 else "",
        "picker_value": stream,
        "stream_ok": status != 400,
        "problem": problem,
        "fields": form_fields(),
        "recent": recent,
        "latest": latest,
        "blank_entry": blank_entry(),
        "page_config": config,
    }
    return render(request, "arraystream/home.html", context, status=status)
