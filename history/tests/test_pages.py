"""The `/history/` page: newest first, pages by seq, one stream at a time."""

import re

import pytest

from generator import services


def create(stream: str, seed: int):
    return services.array_create(
        size=10_000,
        range_start=-50,
        range_end=50,
        seed=seed,
        stream=stream,
        source="command",
    )


def row_seqs(html: str) -> list[int]:
    return [int(seq) for seq in re.findall(r'<tr data-seq="(\d+)"', html)]


def test_history_page_lists_a_stream_newest_first_with_links(client):
    created = [create("lab", seed) for seed in range(3)]
    create("global", 7)

    response = client.get("/history/", {"stream": "lab"})

    html = response.content.decode()
    assert response.status_code == 200
    assert row_seqs(html) == [3, 2, 1]
    for item in created:
        array_id = item.record.id
        assert f'href="/api/arrays/{array_id}/" data-link="detail"' in html
        for format_name in ("json", "csv", "npy"):
            assert f'href="/api/arrays/{array_id}/?format={format_name}"' in html
        assert f"<code>{item.record.seed}</code>" in html
    assert 'href="/?stream=lab"' in html


def test_history_page_shows_the_global_stream_by_default(client):
    create("global", 1)
    create("lab", 2)
    create("lab", 3)

    html = client.get("/history/").content.decode()

    assert row_seqs(html) == [1]
    assert 'value="global"' in html


def test_history_page_goes_back_by_seq(client):
    for seed in range(5):
        create("lab", seed)

    first = client.get("/history/", {"stream": "lab", "limit": 2}).content.decode()
    older_link = re.search(
        r'<a class="button-secondary" href="([^"]+)" rel="next"', first
    )
    second = client.get(older_link.group(1).replace("&amp;", "&")).content.decode()
    last_link = re.search(r'href="([^"]+)" rel="next"', second).group(1)
    last = client.get(last_link.replace("&amp;", "&")).content.decode()

    assert row_seqs(first) == [5, 4]
    assert row_seqs(second) == [3, 2]
    assert row_seqs(last) == [1]
    assert 'rel="next"' not in last
    assert 'href="/history/?stream=lab&amp;limit=2" rel="first"' in last


def test_history_page_below_the_first_seq_is_empty_and_says_so(client):
    create("lab", 1)

    html = client.get("/history/", {"stream": "lab", "before_seq": 1}).content.decode()

    assert row_seqs(html) == []
    assert "No arrays on this stream before seq 1." in html


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ({"stream": "Not Valid"}, "stream must be 1 to 64 characters"),
        ({"stream": "lab", "before_seq": "zero"}, "before_seq must be a whole number"),
        (
            {"stream": "lab", "limit": "1000"},
            "limit must be a whole number from 1 to 100",
        ),
    ],
)
def test_history_page_explains_a_bad_query(client, query, message):
    response = client.get("/history/", query)

    assert response.status_code == 400
    assert message in response.content.decode()
