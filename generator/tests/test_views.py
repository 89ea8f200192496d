"""The HTTP API of generation and stored arrays, against a real MongoDB server."""

import io
import json
import os
import re
from urllib.parse import urlencode

import numpy as np
import orjson
import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.core.management import call_command
from django.test import override_settings

from generator.broadcast import group_name
from generator.documents import ArrayRecord, ArrayValues

SAFE = 2**53 - 1


def post_generate(client, body, **extra):
    return client.post(
        "/api/generate",
        json.dumps(body),
        content_type="application/json",
        **extra,
    )


def stored_count() -> int:
    return ArrayRecord.objects.count() + ArrayValues.objects.count()


@pytest.fixture
def group_listener():
    """A channel in the `global` stream's group, to see what was broadcast."""
    layer = get_channel_layer()
    channel = async_to_sync(layer.new_channel)()
    async_to_sync(layer.group_add)(group_name("global"), channel)
    yield lambda: _receive_all(layer, channel)
    async_to_sync(layer.group_discard)(group_name("global"), channel)


def _receive_all(layer, channel) -> list[dict]:
    import asyncio

    async def drain():
        messages = []
        while True:
            try:
                messages.append(await asyncio.wait_for(layer.receive(channel), 0.05))
            except asyncio.TimeoutError:
                return messages

    return async_to_sync(drain)()


class GenerateTests:
    def test_empty_body_generates_with_the_documented_defaults(self, client):
        response = post_generate(client, {})

        assert response.status_code == 201
        record = response.json()
        assert record["size"] == 10_000
        assert (record["range_start"], record["range_end"]) == (0, 99_999)
        assert record["stream"] == "global"
        assert record["dtype"] == "int32"
        assert record["source"] == "api"
        assert len(record["array"]) == 10_000
        assert 0 <= record["seed"] <= 2**64 - 1

    def test_record_has_every_documented_field(self, client):
        record = post_generate(client, {"seed": 7}).json()

        assert set(record) == {
            "id", "stream", "seq", "size", "range_start", "range_end", "seed",
            "dtype", "stats", "preview", "created_at", "source", "array",
        }  # fmt: skip
        assert set(record["stats"]) == {"min", "max", "mean", "std"}
        assert record["preview"] == record["array"][:10]
        assert record["created_at"].endswith("Z")
        assert len(record["id"]) == 24

    def test_stats_describe_the_returned_values(self, client):
        record = post_generate(client, {"seed": 3}).json()

        values = np.array(record["array"])
        assert record["stats"]["min"] == values.min()
        assert record["stats"]["max"] == values.max()
        assert record["stats"]["mean"] == pytest.approx(values.mean())
        assert record["stats"]["std"] == pytest.approx(values.std())

    def test_readme_formula_reproduces_the_stored_array(self, client):
        record = post_generate(
            client, {"size": 12_345, "range_start": -7, "range_end": 1_000_000}
        ).json()

        values = np.random.default_rng(record["seed"]).integers(
            record["range_start"],
            record["range_end"],
            record["size"],
            endpoint=True,
            dtype=record["dtype"],
        )
        stored = client.get(f"/api/arrays/{record['id']}/?format=npy")
        np.testing.assert_array_equal(np.load(io.BytesIO(stored.content)), values)
        assert record["array"] == values.tolist()

    def test_seq_counts_up_per_stream(self, client):
        seqs = [post_generate(client, {"stream": "a"}).json()["seq"] for _ in range(3)]
        other = post_generate(client, {"stream": "b"}).json()["seq"]

        assert seqs == [1, 2, 3]
        assert other == 1

    def test_generated_array_is_broadcast_once_to_its_stream(
        self, client, group_listener
    ):
        record = post_generate(client, {"seed": 11}).json()

        messages = group_listener()
        assert len(messages) == 1
        assert messages[0]["type"] == "array.published"
        assert messages[0]["seq"] == record["seq"]
        assert orjson.loads(messages[0]["record"]) == record


VALID_BODIES = [
    {"size": 10_000},
    {"size": 2_000_000},
    {"range_start": -SAFE, "range_end": SAFE},
    {"range_start": 5, "range_end": 5},
    {"range_start": -SAFE, "range_end": -SAFE},
    {"seed": 0},
    {"seed": 2**64 - 1},
    {"stream": "a"},
    {"stream": "x" * 64},
    {"stream": "lab-2_b"},
]


@pytest.mark.parametrize("body", VALID_BODIES, ids=json.dumps)
def test_generate_accepts_every_valid_row_of_the_limits_table(client, body):
    response = post_generate(client, body)

    assert response.status_code == 201, response.content
    record = response.json()
    for field, value in body.items():
        assert record[field] == value
    values = np.array(record["array"])
    assert values.min() >= record["range_start"]
    assert values.max() <= record["range_end"]


INVALID_BODIES = [
    ("size", {"size": 9_999}, "10000 to 10000000"),
    ("size", {"size": 10_000_001}, "10000 to 10000000"),
    ("size", {"size": 0}, "10000 to 10000000"),
    ("size", {"size": -10_000}, "10000 to 10000000"),
    ("size", {"size": True}, "got true"),
    ("size", {"size": 10_000.0}, "whole number"),
    ("size", {"size": "10000"}, "whole number"),
    ("size", {"size": None}, "got null"),
    ("size", {"size": [10_000]}, "whole number"),
    ("range_start", {"range_start": -SAFE - 1}, "range_start"),
    ("range_start", {"range_start": 1.5}, "range_start"),
    ("range_start", {"range_start": "0"}, "range_start"),
    ("range_start", {"range_start": False}, "range_start"),
    ("range_start", {"range_start": None}, "range_start"),
    ("range_end", {"range_end": SAFE + 1}, "range_end"),
    ("range_end", {"range_end": 2**64}, "range_end"),
    ("range_end", {"range_end": 1e3}, "range_end"),
    ("range_end", {"range_start": 10, "range_end": 9}, "greater than or equal"),
    ("seed", {"seed": -1}, "0 to 18446744073709551615"),
    ("seed", {"seed": 2**64}, "0 to 18446744073709551615"),
    ("seed", {"seed": "12"}, "seed"),
    ("seed", {"seed": 1.0}, "seed"),
    ("seed", {"seed": True}, "seed"),
    ("stream", {"stream": ""}, "1 to 64"),
    ("stream", {"stream": "x" * 65}, "1 to 64"),
    ("stream", {"stream": "Upper"}, "1 to 64"),
    ("stream", {"stream": "has space"}, "1 to 64"),
    ("stream", {"stream": "ünï"}, "1 to 64"),
    ("stream", {"stream": "a/b"}, "1 to 64"),
    ("stream", {"stream": None}, "1 to 64"),
    ("stream", {"stream": 5}, "1 to 64"),
]


@pytest.mark.parametrize(
    ("field", "body", "message"),
    INVALID_BODIES,
    ids=[json.dumps(body)[:60] for _, body, _ in INVALID_BODIES],
)
def test_generate_rejects_every_invalid_row_of_the_limits_table(
    client, group_listener, field, body, message
):
    response = post_generate(client, body)

    assert response.status_code == 400
    errors = response.json()
    assert list(errors) == [field]
    assert message in errors[field][0]
    assert stored_count() == 0
    assert group_listener() == []


@pytest.mark.parametrize(
    ("payload", "content_type"),
    [
        (b"{not json", "application/json"),
        (b"[1, 2, 3]", "application/json"),
        (b'"size"', "application/json"),
        (b"null", "application/json"),
        (b"size=10000", "text/plain"),
    ],
)
def test_generate_rejects_malformed_bodies_with_a_clear_4xx(
    client, payload, content_type
):
    response = client.post("/api/generate", payload, content_type=content_type)

    assert 400 <= response.status_code < 500
    assert response.json()
    assert stored_count() == 0


def test_generate_rejects_an_oversized_body_without_reading_it(client):
    body = orjson.dumps({"size": 10_000, "padding": "x" * 200_000})

    response = client.post("/api/generate", body, content_type="application/json")

    assert response.status_code in (400, 413)
    assert stored_count() == 0


def test_browsable_api_form_posts_generate_an_array(client):
    page = client.get("/api/generate", HTTP_ACCEPT="text/html")
    response = client.post(
        "/api/generate",
        urlencode({"size": "10000", "range_start": "1", "range_end": "6", "seed": ""}),
        content_type="application/x-www-form-urlencoded",
    )

    assert page.status_code == 200
    assert b"range_start" in page.content
    assert response.status_code == 201
    assert set(response.json()["array"]) <= {1, 2, 3, 4, 5, 6}


def test_browsable_api_form_rejects_non_numeric_text(client):
    response = client.post(
        "/api/generate",
        urlencode({"size": "ten"}),
        content_type="application/x-www-form-urlencoded",
    )

    assert response.status_code == 400
    assert "size" in response.json()


def test_generate_get_describes_defaults_and_limits(client):
    body = client.get("/api/generate").json()

    assert body["defaults"]["size"] == 10_000
    assert body["limits"]["size"] == [10_000, 10_000_000]


def test_generate_is_rate_limited_per_client(client, settings, monkeypatch):
    from django.core.cache import cache

    from generator.throttling import GenerateRateThrottle

    cache.clear()
    rates = {**settings.REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "generate": "2/min"}
    monkeypatch.setattr(GenerateRateThrottle, "THROTTLE_RATES", rates)
    try:
        statuses = [post_generate(client, {}).status_code for _ in range(3)]
    finally:
        cache.clear()

    assert statuses == [201, 201, 429]
    assert ArrayRecord.objects.count() == 2


class ArrayViewSetTests:
    def test_list_is_paginated_newest_first(self, client):
        for stream in ("a", "b", "a"):
            post_generate(client, {"stream": stream})

        page = client.get("/api/arrays/?page_size=2").json()
        rest = client.get(page["next"]).json()
        only_b = client.get("/api/arrays/?stream=b").json()

        assert page["count"] == 3
        assert [(r["stream"], r["seq"]) for r in page["results"]] == [
            ("a", 2),
            ("b", 1),
        ]
        assert [(r["stream"], r["seq"]) for r in rest["results"]] == [("a", 1)]
        assert "array" not in page["results"][0]
        assert [r["stream"] for r in only_b["results"]] == ["b"]

    def test_detail_includes_the_values(self, client):
        created = post_generate(client, {"seed": 5}).json()

        detail = client.get(f"/api/arrays/{created['id']}/").json()

        assert detail == created

    def test_detail_as_csv_lists_one_value_per_line(self, client):
        created = post_generate(client, {"seed": 5}).json()

        response = client.get(f"/api/arrays/{created['id']}/?format=csv")

        assert response["Content-Type"].startswith("text/csv")
        lines = response.content.decode().splitlines()
        assert lines[0] == "value"
        assert [int(line) for line in lines[1:]] == created["array"]
        assert "attachment" in response["Content-Disposition"]

    def test_detail_as_csv_by_accept_header(self, client):
        created = post_generate(client, {"seed": 5}).json()

        response = client.get(f"/api/arrays/{created['id']}/", HTTP_ACCEPT="text/csv")

        assert response["Content-Type"].startswith("text/csv")

    def test_detail_as_npy_loads_with_numpy(self, client):
        created = post_generate(client, {"seed": 5, "range_end": 100}).json()

        response = client.get(
            f"/api/arrays/{created['id']}/", HTTP_ACCEPT="application/octet-stream"
        )

        assert response["Content-Type"] == "application/octet-stream"
        values = np.load(io.BytesIO(response.content), allow_pickle=False)
        assert values.dtype == np.dtype(created["dtype"])
        assert values.tolist() == created["array"]

    @pytest.mark.parametrize("array_id", ["nope", "0" * 24, "x" * 500])
    def test_detail_of_an_unknown_id_is_404(self, client, array_id):
        response = client.get(f"/api/arrays/{array_id}/")

        assert response.status_code == 404
        assert "detail" in response.json()

    def test_detail_browsable_api_renders(self, client):
        created = post_generate(client, {}).json()

        response = client.get(f"/api/arrays/{created['id']}/", HTTP_ACCEPT="text/html")

        assert response.status_code == 200
        assert created["id"].encode() in response.content


def test_schema_describes_every_endpoint(client):
    response = client.get("/api/schema/?format=json")

    paths = response.json()["paths"]
    expected = {"/api/generate", "/api/history", "/api/arrays/", "/api/arrays/{id}/"}
    assert expected <= set(paths)


def test_schema_generates_without_warnings():
    # A warning means a parameter or response the docs page shows untyped.
    call_command("spectacular", "--fail-on-warn", "--file", os.devnull)


def test_docs_page_loads_its_assets_from_this_server(client):
    response = client.get("/api/docs/")

    html = response.content.decode()
    assets = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert response.status_code == 200
    assert assets and all(asset.startswith("/static/") for asset in assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_healthz_answers_while_the_process_runs(client):
    assert client.get("/healthz").json() == {"status": "ok"}


def test_readyz_reports_mongodb_and_channel_layer(client):
    response = client.get("/readyz")

    assert response.status_code == 200
    assert response.json()["checks"] == {"mongodb": "ok", "channel_layer": "ok"}


def test_generate_still_works_when_the_rate_limit_cache_is_down(client, caplog):
    unreachable = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            # Nothing listens on port 1: every cache call fails at once.
            "LOCATION": "redis://127.0.0.1:1/0",
        }
    }
    with override_settings(CACHES=unreachable):
        response = post_generate(client, {})

    assert response.status_code == 201
    assert "rate limit not applied" in caplog.text
