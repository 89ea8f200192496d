"""The embedded MongoDB-protocol server used when MONGODB_URI is unset."""

import json
import os
import signal
import subprocess
import sys
import urllib.request

import pytest

from arraystream.embedded_mongo import is_listening
from arraystream.testing import BASE_DIR, DaphneServer, free_port, wait_until


@pytest.fixture
def embedded_env(tmp_path):
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"MONGODB_URI", "MONGODB_DB", "REDIS_URL"}
    }
    env.update(
        ARRAYSTREAM_DATA_DIR=str(tmp_path / "var"),
        ARRAYSTREAM_EMBEDDED_MONGODB_PORT=str(free_port()),
        SECRET_KEY="embedded-test",
    )
    return env


def post_generate(base_url: str) -> dict:
    request = urllib.request.Request(
        f"{base_url}/api/generate",
        data=b"{}",
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.load(response)


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.slow
def test_web_server_starts_the_embedded_server_and_stops_it_on_exit(embedded_env):
    port = int(embedded_env["ARRAYSTREAM_EMBEDDED_MONGODB_PORT"])
    # Wait for the web server, not for the embedded server it starts first.
    web = DaphneServer(env=embedded_env, inherit_env=False).start()
    try:
        created = post_generate(web.url)
        assert is_listening(port)
    finally:
        web.stop(signal.SIGINT)

    assert created["seq"] == 1
    assert wait_until(lambda: not is_listening(port), timeout=10)


@pytest.mark.slow
def test_second_process_attaches_and_history_survives_a_restart(embedded_env):
    port = int(embedded_env["ARRAYSTREAM_EMBEDDED_MONGODB_PORT"])
    count_arrays = (
        "from generator.documents import ArrayRecord; "
        "print('arrays', ArrayRecord.objects.count())"
    )

    web = DaphneServer(env=embedded_env, inherit_env=False).start()
    try:
        post_generate(web.url)
        beside = manage(embedded_env, "shell", "-c", count_arrays)
        still_up = is_listening(port)
    finally:
        web.stop(signal.SIGINT)
    wait_until(lambda: not is_listening(port), timeout=10)

    # Started again over the same folder: the array is still there, and no
    # lock or pid file left by the first run stands in the way.
    web = DaphneServer(env=embedded_env, inherit_env=False).start()
    try:
        second = post_generate(web.url)
    finally:
        web.stop(signal.SIGINT)

    assert beside.returncode == 0, beside.stderr
    assert "arrays 1" in beside.stdout
    assert "embedded MongoDB attached" in beside.stderr
    assert still_up, "the attaching process must not stop a server it did not start"
    assert second["seq"] == 2


@pytest.mark.slow
def test_a_management_command_alone_starts_and_stops_its_own_server(embedded_env):
    port = int(embedded_env["ARRAYSTREAM_EMBEDDED_MONGODB_PORT"])

    result = manage(embedded_env, "shell", "-c", "print('ok')")

    assert result.returncode == 0, result.stderr
    assert "embedded MongoDB started" in result.stderr
    assert not is_listening(port)


@pytest.mark.slow
def test_embedded_server_goes_away_when_its_owner_is_killed(embedded_env):
    port = int(embedded_env["ARRAYSTREAM_EMBEDDED_MONGODB_PORT"])
    web = DaphneServer(env=embedded_env, inherit_env=False).start()
    post_generate(web.url)

    web.kill()

    assert wait_until(lambda: not is_listening(port), timeout=10)
