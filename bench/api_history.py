"""The history part of the HTTP API benchmark: many stored arrays, one page.

`GET /api/history?limit=10` is timed with 50 stored arrays and again with
10,000. The arrays past the first 50 are inserted in bulk with the project's
MongoEngine documents, which takes seconds instead of minutes over HTTP.
"""

import time
from datetime import datetime, timezone

import orjson
from bson import ObjectId

from bench.api_floor import RANGE_END, RANGE_START
from bench.measure import median, milliseconds, percentile, print_table

HISTORY_STREAM = "global"
HISTORY_SIZE = 10_000
HISTORY_FEW = 50
HISTORY_MANY = 10_000
HISTORY_REPETITIONS = 30
BATCH = 500


def store_history_arrays(*, stream: str, first_seq: int, count: int) -> float:
    """Insert `count` valid records with their values in bulk; return seconds.

    Each record is built as the service builds it (drawn values, stats,
    preview) and validated by its MongoEngine document, then records and
    values go to MongoDB with `insert_many`, 500 at a time. This skips only
    the HTTP round trip and the per-array broadcast.
    """
    # Imported here: the project's modules need Django set up first.
    from generator import arrays
    from generator.documents import (
        STORAGE_DOCUMENT,
        ArrayRecord,
        ArrayStats,
        ArrayValues,
        StreamCounter,
    )

    started = time.perf_counter()
    last_seq = first_seq + count - 1
    for batch_start in range(first_seq, last_seq + 1, BATCH):
        record_documents, value_documents = [], []
        for seq in range(batch_start, min(batch_start + BATCH, last_seq + 1)):
            seed = arrays.draw_seed()
            values = arrays.generate_values(
                size=HISTORY_SIZE,
                range_start=RANGE_START,
                range_end=RANGE_END,
                seed=seed,
            )
            now = datetime.now(timezone.utc)
            record = ArrayRecord(
                id=ObjectId(),
                stream=stream,
                seq=seq,
                size=HISTORY_SIZE,
                range_start=RANGE_START,
                range_end=RANGE_END,
                seed=str(seed),
                dtype=values.dtype.name,
                stats=ArrayStats(**arrays.describe(values).__dict__),
                preview=arrays.preview(values),
                created_at=now.replace(microsecond=now.microsecond // 1000 * 1000),
                source="command",
                storage=STORAGE_DOCUMENT,
            )
            record.validate()
            values_document = ArrayValues(
                id=record.id, data=arrays.to_little_endian_bytes(values)
            )
            values_document.validate()
            record_documents.append(record.to_mongo())
            value_documents.append(values_document.to_mongo())
        # Values first, as the service does: a record never lacks its values.
        ArrayValues._get_collection().insert_many(value_documents)
        ArrayRecord._get_collection().insert_many(record_documents)
    StreamCounter.objects(id=stream).modify(upsert=True, set__seq=last_seq)
    return time.perf_counter() - started


def measure_history(client, database, repetitions: int, seconds: float = 60.0):
    """Time the history request, and its query straight through pymongo.

    The query runs with and without its sort: when the sort costs time that
    grows with the collection, the server sorts every record instead of
    walking the (stream, -seq) index.
    """
    path = "/api/history?limit=10"
    status, content, _ = client.request("GET", path)
    if status != 200 or len(orjson.loads(content)["results"]) != 10:
        raise RuntimeError(f"GET {path} answered {status}: {content[:300]}")
    arrays = database["arrays"]
    query = {"filter": {"stream": HISTORY_STREAM}, "limit": 10}
    times = {"api": [], "sorted": [], "unsorted": []}
    deadline = time.monotonic() + seconds
    for _ in range(repetitions):
        if time.monotonic() > deadline:
            break
        times["api"].append(client.request("GET", path)[2])
        started = time.perf_counter()
        list(arrays.find(**query, sort=[("seq", -1)]))
        sorted_done = time.perf_counter()
        list(arrays.find(**query))
        times["sorted"].append(sorted_done - started)
        times["unsorted"].append(time.perf_counter() - sorted_done)
    return {**times, "body": len(content)}


def index_names(database) -> str:
    return ", ".join(sorted(database["arrays"].index_information()))


def explain_history(database) -> str:
    """Return what the server says about the history query's plan."""
    try:
        plan = database.command(
            "explain",
            {
                "find": "arrays",
                "filter": {"stream": HISTORY_STREAM},
                "sort": {"seq": -1},
                "limit": 10,
            },
        )
    except Exception as error:  # any answer, even a refusal, is the finding
        return f"explain failed: {error!r}"
    return orjson.dumps(plan.get("queryPlanner", {}).get("winningPlan")).decode()


def print_history(
    few: dict,
    many: dict,
    *,
    many_count: int,
    load_seconds: float,
    plan: str,
    indexes: str,
) -> None:
    print(f"\nGET /api/history?limit=10 (stream {HISTORY_STREAM}), ms")
    rows = []
    for count, figures in ((HISTORY_FEW, few), (many_count, many)):
        rows.append(
            [
                f"{count:,} arrays",
                str(len(figures["api"])),
                milliseconds(median(figures["api"])),
                milliseconds(percentile(figures["api"], 0.95)),
                f"{figures['body']:,} B",
                milliseconds(median(figures["sorted"])),
                milliseconds(median(figures["unsorted"])),
            ]
        )
    ratios = [
        median(many[key]) / median(few[key]) for key in ("api", "sorted", "unsorted")
    ]
    rows.append(
        [
            "ratio",
            "",
            f"{ratios[0]:.2f}x",
            "",
            "",
            f"{ratios[1]:.2f}x",
            f"{ratios[2]:.2f}x",
        ]
    )
    print_table(
        [
            "stored",
            "runs",
            "median",
            "p95",
            "body",
            "pymongo sorted",
            "unsorted",
        ],
        rows,
    )
    body_ok = max(few["body"], many["body"]) < 10_000
    print(
        f"(targets: body under 10 KB: {'met' if body_ok else 'MISSED'}; time at "
        f"{many_count:,} within 2x of {HISTORY_FEW}: "
        f"{'met' if ratios[0] <= 2 else 'MISSED'})"
    )
    print(
        "(pymongo: find(stream).limit(10) with and without sort by -seq; "
        f"the {many_count - HISTORY_FEW:,} arrays past the first {HISTORY_FEW} "
        f"were inserted in bulk in {load_seconds:.1f} s)"
    )
    print(f"(the server's plan for the query: {plan})")
    print(f"(indexes of the arrays collection: {indexes})")


def measure_and_print_history(client, database, *, repetitions: int, many: int):
    """Time the history page with 50 stored arrays, then with `many`."""
    # An empty request body draws 10,000 values on the default stream.
    for _ in range(HISTORY_FEW):
        client.generate()
    few_figures = measure_history(client, database, repetitions)
    load_seconds = store_history_arrays(
        stream=HISTORY_STREAM, first_seq=HISTORY_FEW + 1, count=many - HISTORY_FEW
    )
    many_figures = measure_history(client, database, repetitions)
    print_history(
        few_figures,
        many_figures,
        many_count=many,
        load_seconds=load_seconds,
        plan=explain_history(database),
        indexes=index_names(database),
    )
