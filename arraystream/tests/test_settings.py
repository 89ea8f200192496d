"""Logging, start-up checks and production security, as the settings set them."""

import logging
import os
import re
import subprocess
import sys

import pytest

from arraystream.embedded_mongo import is_listening
from arraystream.testing import BASE_DIR, free_port
from arraystream.tests.deployment import (
    manage,
    production_variables,
    start_web,
    web_environment,
)

REQUEST_LINE = re.compile(
    r"request method=(?P<method>\S+) path=(?P<path>\S+) status=(?P<status>\d+) "
    r"ms=(?P<ms>\d+\.\d)"
)


def request_lines(caplog) -> list[tuple[int, dict]]:
    return [
        (record.levelno, REQUEST_LINE.fullmatch(record.getMessage()).groupdict())
        for record in caplog.records
        if record.name == "arraystream.middleware"
    ]


def test_request_is_logged_at_info_with_method_path_status_and_time(client, caplog):
    caplog.set_level(logging.DEBUG, logger="arraystream.middleware")

    client.get("/api/generate")
    client.post("/api/generate", {"size": 5}, content_type="application/json")

    lines = request_lines(caplog)
    assert [
        (level, line["method"], line["path"], line["status"]) for level, line in lines
    ] == [
        (logging.INFO, "GET", "/api/generate", "200"),
        (logging.INFO, "POST", "/api/generate", "400"),
    ]


async def test_request_is_logged_in_the_async_stack_too(async_client, caplog):
    caplog.set_level(logging.DEBUG, logger="arraystream.middleware")

    response = await async_client.get("/no-such-page")

    assert response.status_code == 404
    assert [
        (level, line["path"], line["status"]) for level, line in request_lines(caplog)
    ] == [(logging.INFO, "/no-such-page", "404")]


def test_successful_health_probes_are_logged_at_debug_only(client, caplog):
    caplog.set_level(logging.DEBUG, logger="arraystream.middleware")

    client.get("/healthz")

    assert [(level, line["path"]) for level, line in request_lines(caplog)] == [
        (logging.DEBUG, "/healthz")
    ]


def start_up(**environment: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env={**os.environ, **environment},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("environment", "message"),
    [
        ({"ARRAYSTREAM_LOG_LEVEL": "loud"}, "ARRAYSTREAM_LOG_LEVEL must be DEBUG"),
        ({"ARRAYSTREAM_LOG_FORMAT": "xml"}, "ARRAYSTREAM_LOG_FORMAT must be"),
        ({"SECRET_KEY": "", "DEBUG": "false"}, "SECRET_KEY is not set and DEBUG"),
    ],
    ids=["log-level", "log-format", "development-secret"],
)
def test_start_up_refuses_bad_settings_with_a_message(environment, message):
    result = start_up(**environment)

    assert result.returncode != 0
    assert message in result.stderr


def test_start_up_accepts_the_development_secret_with_debug_on():
    result = start_up(SECRET_KEY="", DEBUG="true")

    assert result.returncode == 0, result.stderr


# --- Production settings ----------------------------------------------------


def test_check_deploy_passes_with_production_variables(mongo_server):
    environment = web_environment(production_variables(MONGODB_URI=mongo_server.uri))

    result = manage("check", "--deploy", environment=environment)

    assert result.returncode == 0, result.stderr
    assert "security." not in result.stdout + result.stderr


def test_check_deploy_warns_without_https(mongo_server):
    environment = web_environment(
        production_variables(MONGODB_URI=mongo_server.uri, ARRAYSTREAM_HTTPS="false")
    )

    result = manage("check", "--deploy", environment=environment)

    for warning in ("security.W004", "security.W008", "security.W016"):
        assert warning in result.stderr


@pytest.mark.parametrize(
    "secret",
    [None, "arraystream-development-only-not-secret"],
    ids=["unset", "development-secret"],
)
def test_web_process_refuses_to_start_with_debug_off_and_no_real_secret(
    secret, tmp_path
):
    environment = web_environment(production_variables())
    del environment["SECRET_KEY"]
    if secret is not None:
        environment["SECRET_KEY"] = secret
    port = free_port()
    log_path = tmp_path / "web.log"

    process = start_web(environment, port, log_path)
    try:
        process.wait(timeout=30)
    finally:
        process.kill()

    assert process.returncode != 0
    assert not is_listening(port)
    assert "SECRET_KEY" in log_path.read_text()
    assert "DEBUG is off" in log_path.read_text()
