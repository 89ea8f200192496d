"""Publish stored arrays to the Channels group of their stream."""

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer

logger = logging.getLogger(__name__)

# Handled by the consumer's `array_published` method.
ARRAY_PUBLISHED = "array.published"


def group_name(stream: str) -> str:
    # Group names allow ASCII letters, digits, hyphens, underscores and
    # periods: a valid stream name always makes a valid group name.
    return f"arrays.{stream}"


def published_message(
    *, stream: str, seq: int, record_json: str, requester: dict | None = None
) -> dict:
    """Build the channel-layer message announcing one stored array.

    `record_json` is the record already encoded, so every receiver only
    splices it into its frame. `requester` names the channel and request id
    of the WebSocket client that asked for the array, if one did.
    """
    return {
        "type": ARRAY_PUBLISHED,
        "stream": stream,
        "seq": seq,
        "record": record_json,
        "requester": requester,
    }


def publish(message: dict) -> bool:
    """Send a published-array message to its stream's group.

    A failing channel layer must not lose an array that is already stored:
    the failure is logged and reported as False, and clients catch up from
    MongoDB with `resume`.
    """
    layer = get_channel_layer()
    if layer is None:
        return False
    try:
        async_to_sync(layer.group_send)(group_name(message["stream"]), message)
    except Exception as error:
        # A warning rather than a traceback: while Redis is down this fires
        # once per array, and the cause is in the error's text.
        logger.warning(
            "array broadcast failed stream=%s seq=%d error=%r: check that the "
            "channel layer (REDIS_URL) is reachable; the array is stored",
            message["stream"],
            message["seq"],
            error,
        )
        return False
    return True
