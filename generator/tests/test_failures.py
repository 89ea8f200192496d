"""MongoDB and the channel layer failing under a running process."""

import time

import pytest
from django.test import override_settings

from generator.documents import ArrayRecord


def generate(client, **body):
    return client.post("/api/generate", body, content_type="application/json")


@pytest.mark.slow
def test_generate_answers_503_while_mongodb_is_down_and_recovers(client, mongo_server):
    assert generate(client).status_code == 201

    mongo_server.kill()
    started = time.monotonic()
    down = generate(client)
    elapsed = time.monotonic() - started
    ready = client.get("/readyz")

    mongo_server.start()
    back = generate(client)

    assert down.status_code == 503
    assert "storage is unavailable" in down.json()["detail"].lower()
    assert elapsed < 5
    assert ready.status_code == 503
    assert ready.json()["checks"]["channel_layer"] == "ok"
    assert "unavailable" in ready.json()["checks"]["mongodb"].lower()
    assert back.status_code == 201
    assert back.json()["seq"] == 2


@pytest.mark.slow
def test_history_and_detail_answer_503_while_mongodb_is_down(client, mongo_server):
    created = generate(client).json()

    mongo_server.kill()
    try:
        history = client.get("/api/history")
        detail = client.get(f"/api/arrays/{created['id']}/")
    finally:
        mongo_server.start()

    assert history.status_code == 503
    assert detail.status_code == 503
    assert "storage is unavailable" in history.json()["detail"].lower()


UNREACHABLE_REDIS = {
    "default": {
        "BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
        # Nothing listens on port 1: connecting fails at once.
        "CONFIG": {"hosts": ["redis://127.0.0.1:1/0"]},
    }
}


def test_array_is_stored_and_returned_when_the_channel_layer_fails(client, caplog):
    from channels.layers import channel_layers

    with override_settings(CHANNEL_LAYERS=UNREACHABLE_REDIS):
        channel_layers.backends.clear()
        try:
            response = generate(client, seed=4)
        finally:
            channel_layers.backends.clear()

    assert response.status_code == 201
    assert ArrayRecord.objects.count() == 1
    assert "array broadcast failed" in caplog.text
