"""Publishing stored arrays to their stream's group, in memory and over Redis."""

import asyncio

import orjson
import pytest
from asgiref.sync import sync_to_async
from channels.layers import channel_layers, get_channel_layer
from django.test import override_settings

from generator import broadcast
from generator.tests.factories import create_array


@pytest.fixture
def fresh_layers():
    """Build channel layers anew from settings before and after the test."""
    channel_layers.backends.clear()
    yield
    channel_layers.backends.clear()


async def receive_published(stream: str, **create_fields) -> tuple[dict, object]:
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(broadcast.group_name(stream), channel)
    try:
        created = await sync_to_async(create_array)(stream=stream, **create_fields)
        message = await asyncio.wait_for(layer.receive(channel), 5)
    finally:
        await layer.group_discard(broadcast.group_name(stream), channel)
    return message, created


async def test_group_member_receives_the_record_encoded_once(fresh_layers):
    message, created = await receive_published("lab", seed=21)

    record = orjson.loads(message["record"])
    assert message["type"] == "array.published"
    assert (message["stream"], message["seq"]) == ("lab", created.record.seq)
    assert record["id"] == str(created.record.id)
    assert record["array"] == created.values.tolist()
    assert isinstance(message["record"], str)


async def test_redis_layer_carries_the_record_to_a_group_member(
    fresh_layers, redis_url
):
    layers = {
        "default": {
            "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
            "CONFIG": {"hosts": [redis_url]},
        }
    }
    with override_settings(CHANNEL_LAYERS=layers):
        channel_layers.backends.clear()
        layer = get_channel_layer()
        try:
            message, created = await receive_published("redis-lab", seed=22)
        finally:
            await layer.flush()

    assert type(layer).__name__ == "RedisPubSubChannelLayer"
    assert orjson.loads(message["record"])["array"] == created.values.tolist()


async def test_large_array_is_announced_with_its_url_not_its_values(
    fresh_layers, settings
):
    settings.ARRAYSTREAM_BROADCAST_MAX_SIZE = 10_000

    message, created = await receive_published("big", size=10_001)

    record = orjson.loads(message["record"])
    assert "array" not in record
    assert record["array_url"] == f"/api/arrays/{created.record.id}/"
    assert len(message["record"]) < 2_000


async def test_requester_is_carried_to_the_group(fresh_layers):
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(broadcast.group_name("own"), channel)

    await sync_to_async(create_array)(
        stream="own", requester={"channel": "abc", "request_id": 7}
    )
    message = await asyncio.wait_for(layer.receive(channel), 5)

    assert message["requester"] == {"channel": "abc", "request_id": 7}
