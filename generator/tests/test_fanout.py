"""The stream hub and its parts: seq order, gap filling, outlets, limits.

Clients connect through Channels' communicator to the project's ASGI
application, against the session's nx-27017 server and the in-memory layer.
"""

import asyncio

import orjson
import pytest
from channels.layers import get_channel_layer
from django.core.exceptions import ImproperlyConfigured

from generator import broadcast, fanout, replay, storage
from generator.outlets import Frame, QueueOutlet
from generator.ratelimit import RateLimit, parse_rate
from generator.tests.sockets import (  # noqa: F401 (stop_hubs is a fixture)
    create_array,
    generation,
    lose_broadcasts,
    open_socket,
    receive,
    stop_hubs,
)
from history.selectors import array_list_after

# --- Order and gaps ---------------------------------------------------------------


async def test_arrays_published_out_of_order_are_delivered_in_seq_order():
    communicator, _ = await open_socket("/ws/arrays/order/")
    await lose_broadcasts("order", 2)
    messages = await fanout.in_thread(replay.published_after)(
        stream="order", after_seq=0, through_seq=2
    )
    layer = get_channel_layer()

    await layer.group_send(broadcast.group_name("order"), messages[1])
    await layer.group_send(broadcast.group_name("order"), messages[0])
    frames = [await receive(communicator) for _ in range(2)]

    assert [frame["seq"] for frame in frames] == [1, 2]
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_an_array_whose_broadcast_was_lost_is_read_from_mongodb(settings):
    settings.ARRAYSTREAM_WS_GAP_WAIT_MS = 50
    communicator, _ = await open_socket("/ws/arrays/gappy/")
    lost = await lose_broadcasts("gappy", 1)

    await create_array(**generation("gappy"))
    frames = [await receive(communicator) for _ in range(2)]

    assert [frame["seq"] for frame in frames] == [1, 2]
    assert frames[0]["array"] == lost[0].values.tolist()
    await communicator.disconnect()


async def test_a_seq_that_is_never_stored_is_skipped_after_the_give_up_delay(
    settings,
):
    settings.ARRAYSTREAM_WS_GAP_WAIT_MS = 50
    settings.ARRAYSTREAM_WS_GAP_GIVE_UP_MS = 400
    communicator, _ = await open_socket("/ws/arrays/holes/")
    # A seq taken by a write that then failed: it never reaches MongoDB.
    await fanout.in_thread(storage.next_seq)("holes")

    await create_array(**generation("holes"))
    started = asyncio.get_running_loop().time()
    frame = await receive(communicator)
    waited = asyncio.get_running_loop().time() - started

    assert frame["seq"] == 2
    assert 0.3 <= waited < 5
    await communicator.disconnect()


async def test_an_idle_stream_catches_up_arrays_whose_broadcast_was_lost(settings):
    settings.ARRAYSTREAM_WS_CATCH_UP_SECONDS = 1
    settings.ARRAYSTREAM_WS_GAP_WAIT_MS = 50
    communicator, _ = await open_socket("/ws/arrays/quiet-loss/")

    await lose_broadcasts("quiet-loss", 2)
    frames = [await receive(communicator) for _ in range(2)]

    assert [frame["seq"] for frame in frames] == [1, 2]
    await communicator.disconnect()


async def test_replay_reads_records_oldest_first_through_the_selector():
    for _ in range(3):
        await create_array(**generation("sel"))

    records = await fanout.in_thread(array_list_after)(
        stream="sel", after_seq=1, limit=10
    )
    messages = await fanout.in_thread(replay.published_after)(
        stream="sel", after_seq=1, through_seq=2
    )

    assert [record.seq for record in records] == [2, 3]
    assert [message["seq"] for message in messages] == [2]
    assert orjson.loads(messages[0]["record"])["seq"] == 2


# --- Parts -------------------------------------------------------------------------


async def test_a_queue_outlet_refuses_frames_past_its_backlog_bound():
    reading = asyncio.Event()
    sent = []

    async def send(message):
        # A client that has stopped reading: nothing leaves until it reads.
        await reading.wait()
        sent.append(message)

    outlet = QueueOutlet(send, backlog_limit=100)
    frame = Frame("x" * 60)

    accepted = [outlet.write(frame) for _ in range(3)]
    reading.set()
    await outlet.close(4008, "fell behind", drop_backlog=True)

    assert accepted == [True, True, False]
    assert sent[-1] == {
        "type": "websocket.close",
        "code": 4008,
        "reason": "fell behind",
    }


def test_rates_are_read_as_requests_per_period():
    assert parse_rate("20/s", setting="RATE") == (20, 1.0)
    assert parse_rate("600/min", setting="RATE") == (600, 60.0)
    with pytest.raises(ImproperlyConfigured, match="RATE must be"):
        parse_rate("fast", setting="RATE")


def test_a_rate_limit_allows_a_burst_then_says_how_long_to_wait():
    limit = RateLimit(2, 60.0)

    waits = [limit.take() for _ in range(3)]

    assert waits[:2] == [0.0, 0.0]
    assert 29 < waits[2] <= 30


async def test_a_hub_gives_up_a_missing_array_rather_than_hold_too_many(
    monkeypatch,
):
    monkeypatch.setattr(fanout, "MAX_PENDING", 2)
    communicator, _ = await open_socket("/ws/arrays/crowded/")
    await lose_broadcasts("crowded", 4)
    messages = await fanout.in_thread(replay.published_after)(
        stream="crowded", after_seq=1, through_seq=4
    )

    for message in messages:
        await get_channel_layer().group_send(broadcast.group_name("crowded"), message)
    frames = [await receive(communicator) for _ in range(3)]

    assert [frame["seq"] for frame in frames] == [2, 3, 4]
    await communicator.disconnect()
