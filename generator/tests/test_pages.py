"""The page at `/`, rendered by the server: form, history, stream names."""

import json
import re

import pytest

from generator import services
from generator.pages import RECENT_LENGTH, thumbnail


def create(stream: str = "global", *, seed: int = 1, size: int = 10_000, **fields):
    request = {"range_start": 0, "range_end": 99_999, **fields}
    return services.array_create(
        size=size, seed=seed, stream=stream, source="api", **request
    )


def page_config(html: str) -> dict:
    found = re.search(
        r'<script id="arraystream-config" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert found, "the page carries no configuration for its script"
    return json.loads(found.group(1))


def entry_seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'<li class="entry" data-seq="(\d+)"', html)]


def test_home_page_renders_the_form_with_the_api_defaults_and_bounds(client, settings):
    settings.ARRAYSTREAM_MIN_SIZE = 10_000
    settings.ARRAYSTREAM_MAX_SIZE = 10_000_000

    response = client.get("/")

    assert response.status_code == 200
    html = response.content.decode()
    size = re.search(r'<input id="field-size"[^>]*>', html, re.S).group(0)
    assert 'value="10000"' in size
    assert 'min="10000"' in size
    assert 'max="10000000"' in size
    assert 'type="number"' in size
    start = re.search(r'<input id="field-range-start"[^>]*>', html, re.S).group(0)
    assert 'value="0"' in start and 'min="-9007199254740991"' in start
    end = re.search(r'<input id="field-range-end"[^>]*>', html, re.S).group(0)
    assert 'value="99999"' in end and 'max="9007199254740991"' in end
    seed = re.search(r'<input id="field-seed"[^>]*>', html, re.S).group(0)
    assert 'pattern="[0-9]{1,20}"' in seed and "required" not in seed
    for field_id in (
        "field-size",
        "field-range-start",
        "field-range-end",
        "field-seed",
    ):
        assert f'<label for="{field_id}">' in html
    assert 'action="/api/generate"' in html


def test_home_page_lists_recent_history_newest_first_without_javascript(client):
    created = [create(seed=seed) for seed in range(3)]
    create("other", seed=9)

    response = client.get("/")

    html = response.content.decode()
    assert entry_seqs(html) == [3, 2, 1]
    newest = created[-1].record
    assert f'href="/api/arrays/{newest.id}/?format=csv"' in html
    assert f'href="/api/arrays/{newest.id}/?format=npy"' in html
    assert f'href="/api/arrays/{newest.id}/?format=json"' in html
    # The latest array's readouts are filled in by the server too.
    assert f'data-readout="seed">{newest.seed}</dd>' in html
    assert 'id="recent-empty" hidden' in html


def test_home_page_keeps_only_the_most_recent_entries(client):
    for seed in range(RECENT_LENGTH + 2):
        create(seed=seed)

    html = client.get("/").content.decode()

    assert entry_seqs(html) == list(range(RECENT_LENGTH + 2, 2, -1))


def test_home_page_shows_the_stream_named_in_the_query(client):
    create("global", seed=1)
    mine = create("lab-2", seed=2)

    response = client.get("/?stream=lab-2")

    html = response.content.decode()
    assert response.status_code == 200
    assert entry_seqs(html) == [1]
    assert f'data-id="{mine.record.id}"' in html
    assert '<strong id="stream-name">lab-2</strong>' in html
    config = page_config(html)
    assert config["stream"] == "lab-2"
    assert config["latest_seq"] == 1
    assert config["websocket_path"] == "/ws/arrays/{stream}/"


def test_home_page_gives_the_script_the_exact_seed_of_the_latest_array(client):
    seed = 2**64 - 1
    create(seed=seed)

    config = page_config(client.get("/").content.decode())

    assert config["latest"]["seed"] == str(seed)
    assert config["latest"]["seq"] == 1
    assert "array" not in config["latest"]


def test_home_page_on_an_empty_stream_says_so(client):
    response = client.get("/?stream=empty")

    html = response.content.decode()
    assert response.status_code == 200
    assert entry_seqs(html) == []
    assert "No arrays on this stream yet" in html
    assert page_config(html)["latest_seq"] == 0


@pytest.mark.parametrize(
    "stream",
    ["Upper", "", "a" * 65, "has space", "<script>alert(1)</script>", "ünï"],
)
def test_home_page_refuses_a_bad_stream_name_and_offers_the_picker(client, stream):
    response = client.get("/", {"stream": stream})

    html = response.content.decode()
    assert response.status_code == 400
    assert "A stream name is 1 to 64 characters of a-z, 0-9, - and _" in html
    assert 'id="field-stream"' in html
    assert "<script>alert(1)</script>" not in html
    # No live connection is opened to a stream that cannot exist.
    assert 'id="arraystream-config"' not in html
    assert 'id="generate-form"' not in html


def test_home_page_reports_unreachable_storage_without_failing(client, mongo_server):
    mongo_server.stop()
    try:
        response = client.get("/")
    finally:
        mongo_server.start()

    html = response.content.decode()
    assert response.status_code == 503
    assert "The history could not be read. Storage is unavailable" in html
    assert 'id="generate-form"' in html


def test_thumbnail_scales_the_preview_and_band_to_the_range():
    payload = {
        "range_start": 0,
        "range_end": 100,
        "preview": [0, 100, 50],
        "stats": {"min": 0, "max": 100, "mean": 50.0, "std": 25.0},
    }

    shape = thumbnail(payload)

    # Height 32 with 3 units of padding: 0 sits at y=29, 100 at y=3.
    assert shape["points"] == "3.0,29.0 48.0,3.0 93.0,16.0"
    assert shape["mean_y"] == 16.0
    assert shape["band_y"] == 9.5
    assert shape["band_height"] == 13.0


def test_static_files_of_the_page_are_served(client):
    html = client.get("/").content.decode()
    paths = re.findall(r'(?:href|src)="(/static/[^"]+)"', html)

    assert paths
    for path in paths:
        response = client.get(path)
        assert response.status_code == 200, path
