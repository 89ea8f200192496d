"""The WebSocket protocol, frame by frame, through Channels' communicator.

The consumer runs inside the project's ASGI application (origin check and
routing included) against the session's nx-27017 server and the in-memory
channel layer.
"""

import asyncio

import numpy as np
import pytest
from channels.layers import get_channel_layer
from channels.testing import WebsocketCommunicator

from arraystream.asgi import application
from generator import broadcast, fanout, storage
from generator.consumers import CLOSE_INVALID_STREAM
from generator.tests.sockets import (  # noqa: F401 (stop_hubs is a fixture)
    ORIGIN,
    WAIT,
    assert_usable,
    create_array,
    generation,
    hub_channel,
    open_socket,
    receive,
    stop_hubs,
)

# --- Connecting ---------------------------------------------------------------


async def test_welcome_names_the_global_stream_and_its_latest_seq():
    await create_array(**generation())
    await create_array(**generation())

    communicator, welcome = await open_socket()

    assert welcome == {"type": "welcome", "stream": "global", "latest_seq": 2}
    await communicator.disconnect()


async def test_welcome_on_a_named_stream_counts_that_stream_alone():
    await create_array(**generation("other"))

    communicator, welcome = await open_socket("/ws/arrays/lab-1/")

    assert welcome == {"type": "welcome", "stream": "lab-1", "latest_seq": 0}
    await communicator.disconnect()


@pytest.mark.parametrize("origin", [b"http://evil.example", None])
async def test_connections_from_origins_outside_allowed_hosts_are_refused(origin):
    communicator = WebsocketCommunicator(
        application, "/ws/arrays/", headers=[(b"origin", origin)] if origin else []
    )

    connected, _ = await communicator.connect(timeout=WAIT)

    assert connected is False


async def test_an_invalid_stream_name_gets_an_error_and_close_code_4400():
    communicator = WebsocketCommunicator(
        application, "/ws/arrays/Not_Valid/", headers=[(b"origin", ORIGIN)]
    )
    connected, _ = await communicator.connect(timeout=WAIT)
    assert connected

    error = await receive(communicator)
    closed = await communicator.receive_output(timeout=WAIT)

    assert error["code"] == "invalid_stream"
    assert "'Not_Valid'" in error["detail"]
    assert closed == {
        "type": "websocket.close",
        "code": CLOSE_INVALID_STREAM,
        "reason": "invalid stream name",
    }


async def test_clients_of_a_stream_share_one_channel_layer_subscription():
    first, _ = await open_socket("/ws/arrays/shared/")
    second, _ = await open_socket("/ws/arrays/shared/")

    members = get_channel_layer().groups[broadcast.group_name("shared")]

    assert list(members) == [hub_channel("shared")]
    await first.disconnect()
    await second.disconnect()


# --- Generating -----------------------------------------------------------------


async def test_generate_array_reaches_every_client_and_tags_the_requesters_copy():
    requester, _ = await open_socket("/ws/arrays/demo/")
    watcher, _ = await open_socket("/ws/arrays/demo/")

    await requester.send_json_to(
        {"type": "generate_array", "size": 10_000, "seed": 7, "request_id": "r-1"}
    )
    own = await receive(requester)
    seen = await receive(watcher)

    assert own["type"] == seen["type"] == "new_array"
    assert own.pop("request_id") == "r-1"
    assert "request_id" not in seen
    assert own == seen
    assert (seen["stream"], seen["seq"], seen["source"]) == ("demo", 1, "websocket")
    expected = np.random.default_rng(7).integers(
        0, 99_999, 10_000, endpoint=True, dtype=seen["dtype"]
    )
    assert seen["array"] == expected.tolist()
    await requester.disconnect()
    await watcher.disconnect()


async def test_arrays_reach_no_client_of_another_stream():
    alpha, _ = await open_socket("/ws/arrays/alpha/")
    beta, _ = await open_socket("/ws/arrays/beta/")

    await alpha.send_json_to({"type": "generate_array"})

    assert (await receive(alpha))["stream"] == "alpha"
    assert await beta.receive_nothing(timeout=0.5)
    await alpha.disconnect()
    await beta.disconnect()


async def test_arrays_from_other_sources_reach_the_stream_in_seq_order():
    communicator, _ = await open_socket("/ws/arrays/mixed/")

    for _ in range(3):
        await create_array(**generation("mixed"))
    frames = [await receive(communicator) for _ in range(3)]

    assert [frame["seq"] for frame in frames] == [1, 2, 3]
    assert {frame["source"] for frame in frames} == {"command"}
    await communicator.disconnect()


async def test_an_array_above_the_broadcast_maximum_is_announced_with_its_url(
    settings,
):
    settings.ARRAYSTREAM_BROADCAST_MAX_SIZE = 10_000
    communicator, _ = await open_socket()

    await communicator.send_json_to({"type": "generate_array", "size": 10_001})
    frame = await receive(communicator)

    assert "array" not in frame
    assert frame["array_url"] == f"/api/arrays/{frame['id']}/"
    assert frame["size"] == 10_001
    await communicator.disconnect()


async def test_generation_does_not_block_other_sockets():
    slow, _ = await open_socket()
    other, _ = await open_socket("/ws/arrays/quiet/")

    await slow.send_json_to({"type": "generate_array", "size": 3_000_000})
    await asyncio.sleep(0.05)
    started = asyncio.get_running_loop().time()
    await assert_usable(other)
    answered = asyncio.get_running_loop().time() - started
    still_generating = await slow.receive_nothing(timeout=0)
    frame = await slow.receive_from(timeout=30)

    assert still_generating
    assert answered < 0.5
    assert '"seq":1' in frame[:300]
    await slow.disconnect()
    await other.disconnect()


# --- Bad frames and bad fields ----------------------------------------------------


@pytest.mark.parametrize(
    "text, code",
    [
        ("not json", "invalid_json"),
        ("{'type': 'ping'}", "invalid_json"),
        ("[1, 2]", "invalid_frame"),
        ("42", "invalid_frame"),
        ('"ping"', "invalid_frame"),
        ("null", "invalid_frame"),
        ("{}", "unknown_type"),
        ('{"type": "explode"}', "unknown_type"),
        ('{"type": 7}', "unknown_type"),
        ('{"type": "ping", "pad": "' + "x" * 65_536 + '"}', "frame_too_large"),
    ],
)
async def test_malformed_frames_get_an_error_and_the_socket_stays_usable(text, code):
    communicator, _ = await open_socket()

    await communicator.send_to(text_data=text)
    error = await receive(communicator)

    assert error["type"] == "error"
    assert error["code"] == code
    assert error["request_id"] is None
    assert error["detail"]
    await assert_usable(communicator)
    await communicator.disconnect()


async def test_a_binary_frame_gets_an_error_and_the_socket_stays_usable():
    communicator, _ = await open_socket()

    await communicator.send_to(bytes_data=b'{"type": "ping"}')
    error = await receive(communicator)

    assert error["code"] == "binary_frame"
    await assert_usable(communicator)
    await communicator.disconnect()


@pytest.mark.parametrize(
    "fields, field",
    [
        ({"size": 9_999}, "size"),
        ({"size": 10_000_001}, "size"),
        ({"size": True}, "size"),
        ({"size": 10_000.0}, "size"),
        ({"size": "10000"}, "size"),
        ({"size": None}, "size"),
        ({"range_start": 2**53}, "range_start"),
        ({"range_start": -(2**53)}, "range_start"),
        ({"range_start": "0"}, "range_start"),
        ({"range_end": 2**53}, "range_end"),
        ({"range_end": 0.5}, "range_end"),
        ({"range_start": 10, "range_end": 9}, "range_end"),
        ({"seed": -1}, "seed"),
        ({"seed": 2**64}, "seed"),
        ({"seed": 1.5}, "seed"),
        ({"seed": "1"}, "seed"),
        ({"seed": False}, "seed"),
        ({"stream": "global"}, "stream"),
        ({"request_id": [1]}, "request_id"),
        ({"request_id": {"id": 1}}, "request_id"),
        ({"request_id": "x" * 129}, "request_id"),
        ({"request_id": 2**53}, "request_id"),
    ],
)
async def test_invalid_fields_get_an_error_naming_the_field_and_store_nothing(
    fields, field
):
    requester, _ = await open_socket()
    watcher, _ = await open_socket()

    await requester.send_json_to({"type": "generate_array", **fields})
    error = await receive(requester)

    assert error["type"] == "error"
    assert list(error["errors"]) == [field]
    assert error["errors"][field][0]
    assert await watcher.receive_nothing(timeout=0.3)
    assert await fanout.in_thread(storage.latest_seq)("global") == 0
    await assert_usable(requester)
    await requester.disconnect()
    await watcher.disconnect()


async def test_an_error_echoes_the_request_id_to_the_requester_alone():
    requester, _ = await open_socket()
    watcher, _ = await open_socket()

    await requester.send_json_to(
        {"type": "generate_array", "size": 5, "request_id": 41}
    )
    error = await receive(requester)

    assert error == {
        "type": "error",
        "request_id": 41,
        "errors": {
            "size": ["size must be a whole number from 10000 to 10000000; got 5."]
        },
    }
    assert await watcher.receive_nothing(timeout=0.3)
    await requester.disconnect()
    await watcher.disconnect()


async def test_generate_requests_past_the_connection_rate_get_an_error(settings):
    settings.ARRAYSTREAM_WS_GENERATE_RATE = "2/min"
    greedy, _ = await open_socket()
    polite, _ = await open_socket()

    for number in range(3):
        await greedy.send_json_to({"type": "generate_array", "request_id": number})
    replies = [await receive(greedy) for _ in range(3)]
    await polite.send_json_to({"type": "generate_array", "request_id": "p"})

    refused = [reply for reply in replies if reply["type"] == "error"]
    assert len(refused) == 1
    assert refused[0]["request_id"] == 2
    assert refused[0]["code"] == "rate_limited"
    assert "2/min" in refused[0]["detail"]
    frames = [await receive(polite) for _ in range(3)]
    assert [frame.get("request_id") for frame in frames] == [None, None, "p"]
    await greedy.disconnect()
    await polite.disconnect()


async def test_ping_is_answered_with_pong():
    communicator, _ = await open_socket()

    await communicator.send_json_to({"type": "ping"})

    assert await receive(communicator) == {"type": "pong"}
    await communicator.disconnect()


async def test_storage_down_gets_an_error_and_the_socket_recovers(mongo_server):
    communicator, _ = await open_socket()

    mongo_server.stop()
    try:
        await communicator.send_json_to({"type": "generate_array", "request_id": "a"})
        error = await receive(communicator)
        await assert_usable(communicator)
    finally:
        mongo_server.start()
    await communicator.send_json_to({"type": "generate_array", "request_id": "b"})
    frame = await receive(communicator)

    assert error["request_id"] == "a"
    assert error["code"] == "storage_unavailable"
    assert "Storage is unavailable" in error["detail"]
    assert (frame["type"], frame["request_id"], frame["seq"]) == ("new_array", "b", 1)
    await communicator.disconnect()


# --- Resume ---------------------------------------------------------------------------


async def test_resume_replays_missed_arrays_oldest_first_then_carries_on_live():
    created = [await create_array(**generation(seed=seed)) for seed in (1, 2, 3)]
    communicator, welcome = await open_socket()

    await communicator.send_json_to({"type": "resume", "after_seq": 1})
    replayed = [await receive(communicator) for _ in range(2)]
    await create_array(**generation())
    live = await receive(communicator)

    assert welcome["latest_seq"] == 3
    assert [frame["seq"] for frame in replayed] == [2, 3]
    assert replayed[1]["array"] == created[2].values.tolist()
    assert live["seq"] == 4
    await communicator.disconnect()


@pytest.mark.parametrize("size", [10_000, 10_001])
async def test_a_replayed_frame_equals_the_live_frame_of_the_same_array(size, settings):
    # Arrays above the broadcast maximum are replayed with their URL too.
    settings.ARRAYSTREAM_BROADCAST_MAX_SIZE = 10_000
    communicator, _ = await open_socket()
    await create_array(**generation(seed=5, size=size))
    live = await communicator.receive_from(timeout=WAIT)
    late, _ = await open_socket()

    await late.send_json_to({"type": "resume", "after_seq": 0})

    assert await late.receive_from(timeout=WAIT) == live
    await communicator.disconnect()
    await late.disconnect()


async def test_after_seq_in_the_url_replays_before_any_live_array():
    for _ in range(3):
        await create_array(**generation())

    communicator, welcome = await open_socket("/ws/arrays/?after_seq=0")
    generating = asyncio.ensure_future(create_array(**generation()))
    frames = [await receive(communicator) for _ in range(4)]
    await generating

    assert welcome["latest_seq"] == 3
    assert [frame["seq"] for frame in frames] == [1, 2, 3, 4]
    await communicator.disconnect()


async def test_live_arrays_published_during_a_replay_follow_it_without_duplicates():
    for _ in range(12):
        await create_array(**generation())
    communicator, _ = await open_socket()

    await communicator.send_json_to({"type": "resume", "after_seq": 0})
    more = [asyncio.ensure_future(create_array(**generation())) for _ in range(3)]
    frames = [await receive(communicator) for _ in range(15)]
    await asyncio.gather(*more)

    assert [frame["seq"] for frame in frames] == list(range(1, 16))
    assert await communicator.receive_nothing(timeout=0.3)
    await communicator.disconnect()


async def test_resume_beyond_the_maximum_tells_the_client_to_reload_history(settings):
    settings.ARRAYSTREAM_WS_RESUME_MAX = 2
    for _ in range(3):
        await create_array(**generation())
    communicator, _ = await open_socket()

    await communicator.send_json_to(
        {"type": "resume", "after_seq": 0, "request_id": "late"}
    )
    error = await receive(communicator)
    await create_array(**generation())
    live = await receive(communicator)

    assert (error["type"], error["code"], error["request_id"]) == (
        "error",
        "resume_too_far",
        "late",
    )
    assert "/api/history?stream=global" in error["detail"]
    assert live["seq"] == 4
    await communicator.disconnect()


async def test_resume_after_a_seq_past_the_newest_array_is_refused():
    await create_array(**generation())
    communicator, _ = await open_socket()

    await communicator.send_json_to({"type": "resume", "after_seq": 5})
    error = await receive(communicator)

    assert error["code"] == "resume_ahead"
    assert "seq 1" in error["detail"]
    await communicator.disconnect()


@pytest.mark.parametrize("after_seq", ["1", -1, True, None, 1.0, 2**53])
async def test_resume_with_an_invalid_after_seq_names_the_field(after_seq):
    communicator, _ = await open_socket()

    await communicator.send_json_to({"type": "resume", "after_seq": after_seq})
    error = await receive(communicator)

    assert list(error["errors"]) == ["after_seq"]
    await assert_usable(communicator)
    await communicator.disconnect()
