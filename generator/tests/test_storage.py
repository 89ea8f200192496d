"""How arrays are laid out in MongoDB: compact binary, GridFS when large."""

import threading

import bson
import gridfs
import numpy as np
import pytest
from bson import ObjectId
from mongoengine.connection import get_db

from generator import storage
from generator.documents import STORAGE_DOCUMENT, STORAGE_GRIDFS, ArrayRecord
from generator.exceptions import StorageFailed
from generator.tests.factories import create_array


def test_values_of_10000_default_range_integers_take_about_40_kb():
    created = create_array()

    raw = get_db()["array_values"].find_one({"_id": created.record.id})
    document_bytes = len(bson.encode(raw))
    as_bson_list = len(bson.encode({"values": created.values.tolist()}))

    assert isinstance(raw["data"], bytes)
    assert 40_000 <= document_bytes < 41_000
    assert as_bson_list > 2 * document_bytes


def test_record_document_holds_metadata_only():
    created = create_array()

    raw = get_db()["arrays"].find_one({"_id": created.record.id})

    assert len(bson.encode(raw)) < 1_000
    assert raw["storage"] == STORAGE_DOCUMENT
    assert raw["seed"] == "1"


def test_seed_above_signed_64_bits_round_trips():
    created = create_array(seed=2**64 - 1)

    record = ArrayRecord.objects.get(id=created.record.id)

    assert int(record.seed) == 2**64 - 1
    np.testing.assert_array_equal(storage.load_values(record), created.values)


@pytest.mark.slow
def test_ten_million_values_go_through_gridfs_and_read_back_equal(client):
    response = client.post(
        "/api/generate",
        {"size": 10_000_000, "seed": 99},
        content_type="application/json",
    )
    assert response.status_code == 201
    array_id = response.json()["id"]

    record = ArrayRecord.objects.get(id=ObjectId(array_id))
    values = storage.load_values(record)
    expected = np.random.default_rng(99).integers(
        0, 99_999, 10_000_000, endpoint=True, dtype="int32"
    )

    assert record.storage == STORAGE_GRIDFS
    assert get_db()["array_values"].count_documents({"_id": record.id}) == 0
    assert gridfs.GridFSBucket(get_db(), storage.GRIDFS_BUCKET).find(
        {"_id": record.id}
    ).next()
    np.testing.assert_array_equal(values, expected)


def test_concurrent_creations_get_distinct_consecutive_seqs():
    seqs = []
    lock = threading.Lock()

    def worker():
        for _ in range(5):
            seq = create_array(stream="busy").record.seq
            with lock:
                seqs.append(seq)

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert sorted(seqs) == list(range(1, 21))


def test_seq_is_unique_per_stream_in_the_database():
    create_array(stream="s")
    document = ArrayRecord.objects.get(stream="s").to_mongo()
    document["_id"] = ObjectId()

    with pytest.raises(StorageFailed):
        storage.insert_record(ArrayRecord._from_son(document))


def test_latest_seq_reads_the_newest_stored_record():
    assert storage.latest_seq("fresh") == 0
    create_array(stream="fresh")
    create_array(stream="fresh")

    assert storage.latest_seq("fresh") == 2


def test_first_record_written_creates_the_unique_stream_seq_index(monkeypatch):
    database = get_db()
    database.client.drop_database(database.name)
    monkeypatch.setattr(storage, "_indexes_ensured", False)

    create_array(stream="indexed")

    keys = [dict(index["key"]) for index in database["arrays"].list_indexes()]
    assert any(set(key) == {"stream", "seq"} for key in keys)
