"""Liveness and readiness endpoints for load balancers and orchestrators."""

import asyncio
import logging

from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from django.http import JsonResponse

from generator import storage
from generator.exceptions import ArrayStreamError

logger = logging.getLogger(__name__)

CHANNEL_LAYER_TIMEOUT_SECONDS = 3.0


async def healthz(request):
    """Answer 200 while the process serves requests."""
    return JsonResponse({"status": "ok"})


async def _check_mongodb() -> str | None:
    try:
        await sync_to_async(storage.ping, thread_sensitive=False)()
    except ArrayStreamError as error:
        return error.message
    return None


async def _check_channel_layer() -> str | None:
    layer = get_channel_layer()
    if layer is None:
        return "no channel layer is configured"
    try:
        # A round trip through the layer proves it carries messages.
        channel = await layer.new_channel()
        await asyncio.wait_for(
            layer.send(channel, {"type": "readiness.probe"}),
            CHANNEL_LAYER_TIMEOUT_SECONDS,
        )
        await asyncio.wait_for(layer.receive(channel), CHANNEL_LAYER_TIMEOUT_SECONDS)
    except Exception as error:  # any failure means "not ready"; say which
        return f"channel layer did not answer: {error!r}"
    return None


async def readyz(request):
    """Answer 200 when MongoDB and the channel layer answer, else 503."""
    mongodb, channel_layer = await asyncio.gather(
        _check_mongodb(), _check_channel_layer()
    )
    checks = {
        "mongodb": mongodb or "ok",
        "channel_layer": channel_layer or "ok",
    }
    ready = mongodb is None and channel_layer is None
    if not ready:
        logger.warning("not ready %s", checks)
    return JsonResponse(
        {"status": "ready" if ready else "unavailable", "checks": checks},
        status=200 if ready else 503,
    )
