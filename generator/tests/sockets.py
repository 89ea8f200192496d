"""Channels-communicator helpers shared by the consumer and fan-out tests.

Import `stop_hubs` into a test module to stop, after each test, the stream
hubs its event loop started.
"""

import asyncio

import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from arraystream.asgi import application
from generator import broadcast, fanout, services

ORIGIN = b"http://127.0.0.1"
WAIT = 10

create_array = fanout.in_thread(services.array_create)


def generation(stream="global", **fields):
    """Keyword arguments of `array_create` for a default array on `stream`."""
    values = {"size": 10_000, "range_start": 0, "range_end": 99_999, "seed": None}
    return {**values, **fields, "stream": stream, "source": "command"}


@pytest.fixture(autouse=True)
async def stop_hubs():
    """Stop the stream hubs each test's event loop started."""
    yield
    await fanout.stop_all()


async def open_socket(path="/ws/arrays/", origin=ORIGIN):
    """Connect through the project's ASGI application; return it and `welcome`."""
    communicator = WebsocketCommunicator(
        application, path, headers=[(b"origin", origin)] if origin else []
    )
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected
    welcome = await communicator.receive_json_from(timeout=WAIT)
    assert welcome["type"] == "welcome", welcome
    return communicator, welcome


async def receive(communicator) -> dict:
    return await communicator.receive_json_from(timeout=WAIT)


async def assert_usable(communicator) -> None:
    await communicator.send_json_to({"type": "ping"})
    assert await receive(communicator) == {"type": "pong"}


def hub_channel(stream: str) -> str:
    return fanout._hubs[(asyncio.get_running_loop(), stream)]._channel


async def lose_broadcasts(stream: str, count: int) -> list:
    """Store arrays whose broadcasts reach no hub, as if the layer dropped them."""
    layer = get_channel_layer()
    channel = hub_channel(stream)
    await layer.group_discard(broadcast.group_name(stream), channel)
    created = [await create_array(**generation(stream)) for _ in range(count)]
    await layer.group_add(broadcast.group_name(stream), channel)
    return created
