"""`manage.py generate`, run as a real process against real servers.

Every test starts the command the way a person does, as its own process with
the test environment's MONGODB_URI, MONGODB_DB and SECRET_KEY, so exit
statuses, signals and terminal output are the real ones.
"""

import asyncio
import json
import os
import pty
import re
import signal
import subprocess
import sys
import time
import uuid

import numpy as np
import pymongo
import pytest
import websockets
from mongoengine.connection import get_db

from arraystream.testing import BASE_DIR, DaphneServer, MongoServer, wait_until
from generator import storage
from generator.documents import ArrayRecord, ArrayValues, StreamCounter
from generator.serializers import MAX_SEED

SUMMARY = re.compile(
    r"Generated (?P<arrays>\d+) arrays? \((?P<values>[\d,]+) values\) on stream "
    r"(?P<stream>\S+) in (?P<seconds>[\d.]+) s: (?P<rate>[\d.]+) arrays/s\."
)
IN_MEMORY_NOTE = "REDIS_URL is not set"


def command_line(*args: str) -> list[str]:
    return [sys.executable, "manage.py", "generate", *args]


def command_env(**extra: str) -> dict:
    # Unbuffered, so that lines written before a signal are not lost.
    return {**os.environ, "PYTHONUNBUFFERED": "1", **extra}


def run_generate(*args: str, timeout: float = 60, **extra_env: str):
    return subprocess.run(
        command_line(*args),
        cwd=BASE_DIR,
        env=command_env(**extra_env),
        capture_output=True,
        text=True,
        timeout=timeout,
        stdin=subprocess.DEVNULL,
    )


def start_generate(*args: str, **extra_env: str) -> subprocess.Popen:
    return subprocess.Popen(
        command_line(*args),
        cwd=BASE_DIR,
        env=command_env(**extra_env),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def unique_stream() -> str:
    # Redis is shared with other test runs: a stream of our own hears only us.
    return f"cmd-{uuid.uuid4().hex[:12]}"


def assert_nothing_stored() -> None:
    assert ArrayRecord.objects.count() == 0
    assert ArrayValues.objects.count() == 0
    assert StreamCounter.objects.count() == 0


def assert_stream_consistent(stream: str, arrays: int) -> None:
    """Every stored record has its values and no seq was taken in vain."""
    records = list(ArrayRecord.objects(stream=stream).order_by("seq"))
    assert [record.seq for record in records] == list(range(1, arrays + 1))
    for record in records:
        assert len(storage.load_values(record)) == record.size
    # find, not count_documents: the stand-in server cannot count GridFS files.
    gridfs_files = len(list(get_db()[f"{storage.GRIDFS_BUCKET}.files"].find()))
    assert ArrayValues.objects.count() + gridfs_files == arrays
    assert StreamCounter.objects.get(id=stream).seq == arrays


def interrupt_once_stored(
    process: subprocess.Popen, stream: str, *, arrays: int, timeout: float
) -> tuple[str, str]:
    """Send SIGINT once `arrays` arrays of `stream` are stored; return the output."""
    try:
        assert wait_until(
            lambda: ArrayRecord.objects(stream=stream).count() >= arrays,
            timeout=timeout,
        )
        process.send_signal(signal.SIGINT)
        return process.communicate(timeout=30)
    finally:
        process.kill()


def test_count_stores_the_arrays_and_prints_a_line_each_and_a_summary():
    result = run_generate("--count", "3", "--size", "12000", "--stream", "shell")

    assert result.returncode == 0, result.stderr
    records = list(ArrayRecord.objects(stream="shell").order_by("seq"))
    assert [record.seq for record in records] == [1, 2, 3]
    assert {record.source for record in records} == {"command"}
    assert {record.size for record in records} == {12000}
    lines = result.stdout.splitlines()
    for number, record in enumerate(records, start=1):
        assert lines[number - 1].startswith(f"array {number}/3 id={record.id} ")
    summary = SUMMARY.search(lines[-1])
    assert summary["arrays"] == "3"
    assert summary["values"] == "36,000"
    assert summary["stream"] == "shell"
    assert float(summary["rate"]) > 0


def test_in_memory_channel_layer_is_mentioned_once():
    result = run_generate("--count", "3")

    assert result.returncode == 0, result.stderr
    assert result.stderr.count(IN_MEMORY_NOTE) == 1
    assert "other processes" in result.stderr
    assert ArrayRecord.objects.count() == 3


def test_seed_gives_consecutive_seeds_that_reproduce_the_values():
    result = run_generate(
        "--seed", "41", "--count", "3", "--range-start", "-5", "--range-end", "5"
    )

    assert result.returncode == 0, result.stderr
    records = list(ArrayRecord.objects.order_by("seq"))
    assert [record.seed for record in records] == ["41", "42", "43"]
    for record in records:
        expected = np.random.default_rng(int(record.seed)).integers(
            -5, 5, record.size, endpoint=True, dtype=record.dtype
        )
        assert np.array_equal(storage.load_values(record), expected)
        assert record.preview == expected[:10].tolist()


async def test_count_three_reaches_a_websocket_client_on_daphne(redis_url, tmp_path):
    stream = unique_stream()
    daphne = DaphneServer(env={"REDIS_URL": redis_url}, log_path=tmp_path / "d.log")
    await asyncio.to_thread(daphne.start)
    try:
        async with websockets.connect(
            f"{daphne.ws_url}/ws/arrays/{stream}/",
            origin=daphne.url,
            proxy=None,
            open_timeout=10,
        ) as socket:
            welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
            result = await asyncio.to_thread(
                run_generate, "--count", "3", "--stream", stream, REDIS_URL=redis_url
            )
            frames = [
                json.loads(await asyncio.wait_for(socket.recv(), 10)) for _ in range(3)
            ]
    finally:
        await asyncio.to_thread(daphne.stop)

    assert result.returncode == 0, result.stderr
    assert IN_MEMORY_NOTE not in result.stderr
    assert welcome["type"] == "welcome"
    assert welcome["stream"] == stream
    assert welcome["latest_seq"] == 0
    records = list(ArrayRecord.objects(stream=stream).order_by("seq"))
    assert [frame["type"] for frame in frames] == ["new_array"] * 3
    assert [frame["id"] for frame in frames] == [str(record.id) for record in records]
    assert [frame["seq"] for frame in frames] == [1, 2, 3]
    assert {frame["source"] for frame in frames} == {"command"}
    assert [len(frame["array"]) for frame in frames] == [10_000] * 3
    assert [frame["array"][:10] for frame in frames] == [
        record.preview for record in records
    ]


INVALID_ARGUMENTS = [
    (["--size", "abc"], "--size: size must be a whole number from 10000 to 10000000"),
    (["--size", "5"], "size must be a whole number from 10000 to 10000000; got 5."),
    (["--size", "10000001"], "got 10000001."),
    (["--size", "1e4"], "got '1e4'."),
    (["--range-start", "x"], "--range-start: range_start must be a whole number"),
    (["--range-end", "9007199254740992"], "range_end must be a whole number"),
    (
        ["--range-start", "10", "--range-end", "5"],
        "range_end must be greater than or equal to range_start",
    ),
    (["--seed", "-1"], "--seed: seed must be a whole number from 0 to"),
    (["--seed", "1.5"], "got '1.5'."),
    (["--seed", str(MAX_SEED + 1)], f"got {MAX_SEED + 1}."),
    (["--seed", str(MAX_SEED), "--count", "2"], "past the largest seed"),
    (["--stream", "Not Valid"], "--stream: stream must be 1 to 64 characters"),
    (["--stream", ""], "stream must be 1 to 64 characters"),
    (["--stream", "x" * 65], "stream must be 1 to 64 characters"),
    (["--count", "0"], "--count must be a whole number of arrays, 1 or more"),
    (["--count", "two"], "got 'two'."),
    (["--count", "1.5"], "--count must be a whole number"),
    (["--interval", "-1"], "--interval must be a number of seconds, 0 or more"),
    (["--interval", "soon"], "got 'soon'."),
    (["--interval", "nan"], "--interval must be a number of seconds"),
]


@pytest.mark.parametrize(("arguments", "message"), INVALID_ARGUMENTS)
def test_invalid_argument_is_refused_with_its_message(arguments, message):
    result = run_generate(*arguments)

    assert result.returncode != 0
    assert message in result.stderr
    # One line that says what to do, not a traceback.
    assert result.stderr.strip().count("\n") == 0
    assert result.stderr.startswith("CommandError: ")
    assert result.stdout == ""
    assert_nothing_stored()


def test_interval_stopped_with_sigint_exits_zero_with_a_summary():
    stream = unique_stream()
    process = start_generate("--interval", "0.2", "--stream", stream)
    stdout, stderr = interrupt_once_stored(process, stream, arrays=2, timeout=30)

    assert process.returncode == 0, stderr
    assert "Traceback" not in stderr
    summary = SUMMARY.search(stdout)
    assert summary is not None, stdout
    assert summary["stream"] == stream
    assert "Stopped by request." in stdout
    arrays = int(summary["arrays"])
    assert arrays >= 2
    assert len(re.findall(r"^array \d+ id=", stdout, re.MULTILINE)) == arrays
    assert_stream_consistent(stream, arrays)


@pytest.mark.slow
def test_sigint_while_an_array_is_made_stops_after_storing_it():
    stream = unique_stream()
    # Arrays of 4,000,000 values take a while each: the signal lands mid-way.
    process = start_generate("--interval", "0", "--size", "4000000", "--stream", stream)
    stdout, stderr = interrupt_once_stored(process, stream, arrays=1, timeout=60)

    assert process.returncode == 0, stderr
    summary = SUMMARY.search(stdout)
    assert summary is not None, stdout
    assert_stream_consistent(stream, int(summary["arrays"]))


def test_interval_with_count_stops_after_count_arrays():
    started = time.monotonic()
    result = run_generate("--interval", "0.3", "--count", "3")
    elapsed = time.monotonic() - started

    assert result.returncode == 0, result.stderr
    assert ArrayRecord.objects.count() == 3
    assert SUMMARY.search(result.stdout)["arrays"] == "3"
    # Three arrays at 0.3 s intervals span at least 0.6 s.
    assert elapsed >= 0.6


def test_terminal_shows_a_progress_bar():
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        command_line("--count", "3"),
        cwd=BASE_DIR,
        env=command_env(),
        stdout=terminal,
        stderr=terminal,
        stdin=subprocess.DEVNULL,
    )
    os.close(terminal)
    output = b""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            chunk = os.read(controller, 65536)
        except OSError:  # the terminal closes when the process exits
            break
        if not chunk:
            break
        output += chunk
    os.close(controller)
    process.wait(timeout=10)
    text = output.decode(errors="replace")

    assert process.returncode == 0, text
    assert "3/3" in text
    assert "\r" in text
    assert "array 1/3 id=" not in text
    assert SUMMARY.search(text)["arrays"] == "3"


def test_unreachable_mongodb_gives_the_storage_message_within_five_seconds(tmp_path):
    server = MongoServer(data_dir=tmp_path / "mongodb").start()
    try:
        working = run_generate("--count", "1", MONGODB_URI=server.uri)
    finally:
        server.stop()

    started = time.monotonic()
    result = run_generate("--count", "2", MONGODB_URI=server.uri)
    elapsed = time.monotonic() - started

    assert working.returncode == 0, working.stderr
    assert result.returncode != 0
    assert elapsed < 5
    message = result.stderr.strip()
    assert message.count("\n") == 0
    assert "Storage is unavailable" in message
    assert f"127.0.0.1:{server.port}" in message
    assert "MONGODB_URI" in message
    assert "docker compose up -d mongo" in message
    assert "Generated" not in result.stdout


@pytest.mark.slow
def test_mongodb_lost_during_interval_ends_with_the_storage_message(tmp_path):
    server = MongoServer(data_dir=tmp_path / "mongodb").start()
    database = os.environ["MONGODB_DB"]
    process = start_generate("--interval", "0.2", MONGODB_URI=server.uri)
    try:
        client = pymongo.MongoClient(server.uri, serverSelectionTimeoutMS=2000)
        stored = client[database]["arrays"]
        assert wait_until(lambda: stored.count_documents({}) >= 2, timeout=30)
        client.close()
        server.kill()
        stopped = time.monotonic()
        stdout, stderr = process.communicate(timeout=15)
        elapsed = time.monotonic() - stopped
    finally:
        process.kill()
        server.stop()

    assert process.returncode != 0
    # One storage timeout, or two when the values must be cleaned up too.
    assert elapsed < 8
    assert "Storage is unavailable" in stderr.strip().splitlines()[-1]
    summary = SUMMARY.search(stdout)
    assert int(summary["arrays"]) >= 2
