"""Streams end to end: real Daphne processes, Redis, nx-27017 and clients.

Two Daphne processes share one Redis and one MongoDB-protocol server, as
production replicas do; every client is a real `websockets` client on a
loopback socket.
"""

import asyncio
import http.client
import json
import statistics
import uuid

import pytest

from arraystream.testing import DaphneServer, MongoServer
from conftest import REDIS_TEST_URL
from generator.consumers import CLOSE_FELL_BEHIND, CLOSE_FELL_BEHIND_REASON
from generator.tests.live import (
    ClientCrowd,
    RedisServer,
    StreamClient,
    log_has,
    stream_url,
)

pytestmark = pytest.mark.slow

LOAD_CLIENTS = 100
LOAD_ARRAYS = 300
IN_FLIGHT = 6


def daphne_environment(mongodb_uri: str, redis_url: str, database: str) -> dict:
    return {
        "MONGODB_URI": mongodb_uri,
        "MONGODB_DB": database,
        "REDIS_URL": redis_url,
        "SECRET_KEY": "websocket-e2e-not-secret",
        "ARRAYSTREAM_WS_GENERATE_RATE": "100000/s",
        "ARRAYSTREAM_WS_BACKLOG_BYTES": str(1024 * 1024),
        "ARRAYSTREAM_WS_CATCH_UP_SECONDS": "1",
        "ARRAYSTREAM_LOG_LEVEL": "INFO",
    }


def start_pair(tmp_path, mongodb_uri: str, redis_url: str) -> list[DaphneServer]:
    environment = daphne_environment(
        mongodb_uri, redis_url, f"arraystream_e2e_{uuid.uuid4().hex[:8]}"
    )
    servers = []
    try:
        for index in (1, 2):
            log_path = tmp_path / f"daphne-{index}.log"
            servers.append(DaphneServer(env=environment, log_path=log_path).start())
    except Exception:
        for server in servers:
            server.stop()
        raise
    return servers


@pytest.fixture(scope="module")
def pair(mongo_server, tmp_path_factory):
    """Two Daphne processes on the shared Redis and the session's nx-27017."""
    servers = start_pair(
        tmp_path_factory.mktemp("pair"), mongo_server.uri, REDIS_TEST_URL
    )
    yield servers
    for server in servers:
        server.stop()


@pytest.fixture
def stream():
    # Redis pub/sub is shared by every test run: a unique stream per test.
    return f"e2e-{uuid.uuid4().hex[:10]}"


def post_generate(server, body: dict) -> tuple[int, dict]:
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    try:
        connection.request(
            "POST",
            "/api/generate",
            body=json.dumps(body),
            headers={"Content-Type": "application/json"},
        )
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


class Generator:
    """A socket that asks for arrays, keeping a few requests in flight."""

    def __init__(self, client: StreamClient, prefix: str):
        self.client = client
        self.prefix = prefix
        self.sent = 0

    async def run(self, count: int, *, in_flight: int = IN_FLIGHT) -> None:
        while self.sent < count:
            answered = len(self.client.own) + len(self.client.others)
            while self.sent < count and self.sent - answered < in_flight:
                self.sent += 1
                await self.client.send(
                    {
                        "type": "generate_array",
                        "request_id": f"{self.prefix}{self.sent}",
                    }
                )
            assert await self.client.wait_until(
                lambda: len(self.client.own) + len(self.client.others) > answered
            ), "the server stopped answering generate_array"
        assert self.client.others == [], self.client.others[:3]


def assert_once_in_order(seqs: list[int], first: int, last: int) -> None:
    assert seqs == list(range(first, last + 1)), _describe(seqs, first, last)


def _describe(seqs, first, last) -> str:
    expected = set(range(first, last + 1))
    duplicates = len(seqs) - len(set(seqs))
    return (
        f"{len(seqs)} arrays, missing {sorted(expected - set(seqs))[:10]}, "
        f"{duplicates} duplicates, first out of order at "
        f"{next((i for i in range(1, len(seqs)) if seqs[i] < seqs[i - 1]), None)}"
    )


# --- Two processes, one stream ----------------------------------------------------


async def test_arrays_from_a_socket_and_the_api_reach_every_client_of_the_stream_only(
    pair, stream
):
    first, second = pair
    other_stream = f"{stream}-other"
    clients = [
        await StreamClient.open(first, stream),
        await StreamClient.open(first, stream),
        await StreamClient.open(second, stream),
        await StreamClient.open(second, stream),
    ]
    bystanders = [
        await StreamClient.open(first, other_stream),
        await StreamClient.open(second, other_stream),
    ]

    await clients[0].send({"type": "generate_array", "request_id": "from-socket"})
    for client in clients:
        assert await client.has_seq(1)
    status, record = await asyncio.to_thread(post_generate, second, {"stream": stream})
    for client in clients:
        assert await client.has_seq(2)
    await clients[2].send({"type": "ping", "pad": "x" * 100_000})
    too_large = await clients[2].next_other()
    await clients[2].send({"type": "ping"})
    pong = await clients[2].next_other()
    await asyncio.sleep(0.5)

    assert status == 201
    assert too_large["code"] == "frame_too_large"
    assert pong == {"type": "pong"}
    assert (record["stream"], record["seq"], record["source"]) == (stream, 2, "api")
    assert clients[0].own == {"from-socket": 1}
    for client in clients:
        assert client.seqs == [1, 2]
    for bystander in bystanders:
        assert bystander.seqs == []
        assert bystander.welcome == {
            "type": "welcome",
            "stream": other_stream,
            "latest_seq": 0,
        }
    for client in clients + bystanders:
        await client.close()


async def test_a_hundred_clients_get_all_arrays_in_order_and_a_stalled_one_is_closed(
    pair, stream
):
    first, second = pair
    urls = [
        (stream_url(server, stream), server.url)
        for server in [first, second] * (LOAD_CLIENTS // 2)
    ][: LOAD_CLIENTS - 1]
    crowd = ClientCrowd(urls, expected=LOAD_ARRAYS, timeout=150)
    try:
        await asyncio.to_thread(crowd.wait_ready)
        stalled = await StreamClient.open(
            first, stream, read=False, receive_buffer=16 * 1024
        )
        generators = [
            Generator(await StreamClient.open(server, stream), prefix=f"g{index}-")
            for index, server in enumerate(pair)
        ]

        started = asyncio.get_running_loop().time()
        runs = [
            asyncio.ensure_future(generator.run(LOAD_ARRAYS // 2))
            for generator in generators
        ]
        fell_behind = first.log_path
        while not log_has(fell_behind, "socket fell behind") and not all(
            run.done() for run in runs
        ):
            await asyncio.sleep(0.05)
        stalled.start_reading()
        await asyncio.gather(*runs)
        generated = asyncio.get_running_loop().time() - started
        received, arrivals = await asyncio.to_thread(crowd.results)
    finally:
        crowd.kill()

    assert await stalled.closed()
    assert stalled.close_code == CLOSE_FELL_BEHIND
    assert stalled.close_reason == CLOSE_FELL_BEHIND_REASON
    assert 0 < len(stalled.seqs) < LOAD_ARRAYS
    assert_once_in_order(stalled.seqs, 1, len(stalled.seqs))
    assert len(received) == LOAD_CLIENTS - 1
    for seqs in received:
        assert_once_in_order(seqs, 1, LOAD_ARRAYS)
    # Not held up: each array reached every other client within moments of
    # the first one, also while the stalled client was falling behind.
    spreads = [
        max(times[index] for times in arrivals)
        - min(times[index] for times in arrivals)
        for index in range(LOAD_ARRAYS)
    ]
    assert statistics.median(spreads) < 0.5, statistics.median(spreads)
    assert max(spreads) < 3.0, max(spreads)
    print(f"{LOAD_ARRAYS} arrays to {LOAD_CLIENTS} clients in {generated:.1f} s")
    for generator in generators:
        await generator.client.close()


async def test_resume_after_a_disconnect_during_a_burst_has_no_gap_or_duplicate(
    pair, stream
):
    first, second = pair
    leaving = [await StreamClient.open(first, stream) for _ in range(2)]
    generator = Generator(await StreamClient.open(first, stream), prefix="burst-")
    burst = asyncio.ensure_future(generator.run(120))

    for client in leaving:
        assert await client.wait_until(lambda client=client: len(client.seqs) >= 30)
        await client.close()
    by_url = await StreamClient.open(second, stream, after_seq=leaving[0].seqs[-1])
    by_frame = await StreamClient.open(second, stream)
    await by_frame.send({"type": "resume", "after_seq": leaving[1].seqs[-1]})
    await burst
    for client in (by_url, by_frame):
        assert await client.has_seq(120)
    await asyncio.sleep(0.5)

    for client in leaving:
        assert_once_in_order(client.seqs, 1, client.seqs[-1])
        assert client.seqs[-1] < 120
    # Replayed before any live array: the whole stream in order.
    assert_once_in_order(leaving[0].seqs + by_url.seqs, 1, 120)
    # Resumed by a frame: live arrays sent before it came first, then the
    # older ones it asked for; each exactly once.
    combined = leaving[1].seqs + by_frame.seqs
    assert sorted(combined) == list(range(1, 121)), _describe(combined, 1, 120)
    for client in (by_url, by_frame, generator.client):
        await client.close()


# --- Taking Redis and MongoDB away --------------------------------------------------


async def test_redis_and_mongodb_can_die_and_return_without_restarting_daphne(
    tmp_path, stream
):
    redis = RedisServer(data_dir=tmp_path).start()
    mongo = MongoServer(data_dir=tmp_path / "mongo").start()
    servers = []
    try:
        servers = start_pair(tmp_path, mongo.uri, redis.url)
        first, second = servers
        pids = [server.pid for server in servers]
        near = await StreamClient.open(first, stream)
        far = await StreamClient.open(second, stream)

        await near.send({"type": "generate_array", "request_id": "before"})
        assert await far.has_seq(1)

        redis.kill()
        await near.send({"type": "generate_array", "request_id": "redis-down"})
        assert await near.has_seq(2)
        assert near.own["redis-down"] == 2
        assert not await far.has_seq(2, timeout=1)

        # A stream first joined while Redis is down is served all the same,
        # and subscribes once Redis is back.
        fresh = await StreamClient.open(second, f"{stream}-fresh")

        redis.start()
        # Once the layer reconnects, arrays broadcast again; the one whose
        # broadcast failed reaches the far process from MongoDB.
        assert await far.has_seq(2, timeout=20)
        await far.send({"type": "generate_array", "request_id": "redis-back"})
        assert await near.has_seq(3, timeout=20)

        status, _ = await asyncio.to_thread(
            post_generate, first, {"stream": f"{stream}-fresh"}
        )
        assert status == 201
        assert await fresh.has_seq(1, timeout=20)

        mongo.kill()
        await near.send({"type": "generate_array", "request_id": "mongo-down"})
        error = await near.next_other(timeout=30)
        await near.send({"type": "ping"})
        pong = await near.next_other()

        mongo.start()
        await near.send({"type": "generate_array", "request_id": "mongo-back"})
        assert await far.has_seq(4, timeout=30)
        assert await near.has_seq(4)
        running = [server.process.poll() is None for server in servers]
    finally:
        for server in servers:
            server.stop()
        redis.stop()
        mongo.stop()

    assert error["request_id"] == "mongo-down"
    assert error["code"] == "storage_unavailable"
    assert "Storage is unavailable" in error["detail"]
    assert pong == {"type": "pong"}
    assert near.own == {"before": 1, "redis-down": 2, "mongo-back": 4}
    assert far.own == {"redis-back": 3}
    assert_once_in_order(near.seqs, 1, 4)
    assert_once_in_order(far.seqs, 1, 4)
    assert running == [True, True]
    assert fresh.welcome["latest_seq"] == 0
    assert fresh.seqs == [1]
    assert [server.pid for server in servers] == pids
    assert log_has(first.log_path, "array broadcast failed")
