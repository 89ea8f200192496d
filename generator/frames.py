"""Check the frames WebSocket clients send, with errors a person can act on.

Parsing fails with `FrameError` (the frame as a whole is unusable: `detail`
and `code`) or `FieldError` (named fields are wrong: `errors` in the HTTP
API's shape); the consumer turns either into an `error` frame.
"""

from urllib.parse import parse_qs

import orjson

from generator.serializers import SAFE_INTEGER

FRAME_TYPES = ("generate_array", "resume", "ping")
REQUEST_ID_MAX_LENGTH = 128


class FrameError(Exception):
    """A frame the server cannot use at all."""

    def __init__(self, code: str, detail: str, request_id=None):
        super().__init__(detail)
        self.code = code
        self.detail = detail
        self.request_id = request_id


class FieldError(Exception):
    """A frame whose named fields are wrong."""

    def __init__(self, errors: dict, request_id=None):
        super().__init__(errors)
        self.errors = errors
        self.request_id = request_id


def parse_frame(text_data: str | None, bytes_data: bytes | None, *, max_bytes: int):
    """Return (type, frame, request_id) of a client frame, or raise why not."""
    if text_data is None:
        raise FrameError(
            "binary_frame",
            f"Frames must be JSON text; got a binary frame of {len(bytes_data)} "
            'bytes. Send a JSON object such as {"type": "ping"}.',
        )
    # Four bytes per character at most: only long frames need encoding.
    if len(text_data) * 4 > max_bytes and len(text_data.encode()) > max_bytes:
        raise FrameError(
            "frame_too_large",
            f"Frames may be at most {max_bytes} bytes; got "
            f"{len(text_data.encode())} bytes. Send a smaller frame.",
        )
    try:
        frame = orjson.loads(text_data)
    except orjson.JSONDecodeError as error:
        raise FrameError(
            "invalid_json",
            f"The frame is not valid JSON ({error}). Send a JSON object with a "
            'type, such as {"type": "ping"}.',
        ) from None
    if not isinstance(frame, dict):
        raise FrameError(
            "invalid_frame",
            f"A frame must be a JSON object with a type; got {_json_kind(frame)}. "
            'Send for example {"type": "generate_array", "size": 10000}.',
        )
    request_id = frame.get("request_id")
    if not _valid_request_id(request_id):
        raise FieldError(
            {
                "request_id": [
                    f"request_id must be a string of at most {REQUEST_ID_MAX_LENGTH} "
                    f"characters or a whole number; got {short_repr(request_id)}."
                ]
            }
        )
    kind = frame.get("type")
    if kind not in FRAME_TYPES:
        raise FrameError(
            "unknown_type",
            f"Unknown frame type {short_repr(kind)}; the server takes "
            f"{', '.join(FRAME_TYPES)}.",
            request_id,
        )
    return kind, frame, request_id


def after_seq_of(value, request_id=None) -> int:
    """Return a valid `after_seq`, or raise a FieldError naming it."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 0 <= value <= SAFE_INTEGER
    ):
        raise FieldError(
            {
                "after_seq": [
                    f"after_seq must be a whole number from 0 to {SAFE_INTEGER}; "
                    f"got {short_repr(value)}."
                ]
            },
            request_id,
        )
    return value


def query_after_seq(scope):
    """Return the `after_seq` of a socket's URL: an int, other text, or None."""
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    values = query.get("after_seq")
    if not values:
        return None
    text = values[-1]
    return int(text) if text.isdigit() and len(text) <= 16 else text


def short_repr(value, limit: int = 60) -> str:
    """Show a received value as JSON, cut short if long."""
    try:
        text = orjson.dumps(value).decode()
    except TypeError:
        text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _valid_request_id(request_id) -> bool:
    if request_id is None:
        return True
    if isinstance(request_id, str):
        return len(request_id) <= REQUEST_ID_MAX_LENGTH
    return (
        isinstance(request_id, int)
        and not isinstance(request_id, bool)
        and abs(request_id) <= SAFE_INTEGER
    )


def _json_kind(value) -> str:
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if value is None:
        return "null"
    return "a number"
