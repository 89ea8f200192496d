"""GET /api/history against a real MongoDB server."""

import pytest

from generator.tests.factories import create_array


def create(stream="global", size=10_000):
    return create_array(stream=stream, size=size, range_end=99, seed=None)


def test_history_lists_newest_first_without_values(client):
    for _ in range(3):
        create()

    body = client.get("/api/history").json()

    assert body["stream"] == "global"
    assert [record["seq"] for record in body["results"]] == [3, 2, 1]
    assert all("array" not in record for record in body["results"])
    assert body["next_before_seq"] is None


def test_history_defaults_to_ten_and_points_to_the_next_page(client):
    for _ in range(12):
        create()

    first = client.get("/api/history").json()
    second = client.get(
        f"/api/history?before_seq={first['next_before_seq']}"
    ).json()

    assert [r["seq"] for r in first["results"]] == list(range(12, 2, -1))
    assert first["next_before_seq"] == 3
    assert [r["seq"] for r in second["results"]] == [2, 1]
    assert second["next_before_seq"] is None


def test_history_filters_by_stream(client):
    create("a")
    create("b")

    body = client.get("/api/history?stream=b").json()

    assert [(r["stream"], r["seq"]) for r in body["results"]] == [("b", 1)]


def test_history_includes_values_when_asked(client):
    created = create()

    body = client.get("/api/history?include_array=true").json()

    assert body["results"][0]["array"] == created.values.tolist()


@pytest.mark.parametrize("limit", ["1", "100"])
def test_history_accepts_limits_from_1_to_100(client, limit):
    for _ in range(2):
        create()

    response = client.get(f"/api/history?limit={limit}")

    assert response.status_code == 200
    assert len(response.json()["results"]) == min(int(limit), 2)


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("limit=abc", "limit"),
        ("limit=1.5", "limit"),
        ("before_seq=0", "before_seq"),
        ("before_seq=x", "before_seq"),
        ("stream=UPPER", "stream"),
        ("stream=" + "a" * 65, "stream"),
        ("include_array=maybe", "include_array"),
    ],
)
def test_history_rejects_bad_parameters_naming_the_field(client, query, field):
    response = client.get(f"/api/history?{query}")

    assert response.status_code == 400
    assert field in response.json()


def test_history_browsable_api_renders(client):
    create()

    response = client.get("/api/history", HTTP_ACCEPT="text/html")

    assert response.status_code == 200
    assert b"next_before_seq" in response.content
