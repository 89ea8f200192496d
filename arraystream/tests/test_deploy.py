"""The production setup, checked as far as a machine without Docker allows.

The Compose files and the Dockerfile are read as data and checked against
what the README promises; the Dockerfile's install and collectstatic steps
run for real in a fresh virtual environment; the web service's command and
environment, taken from the Compose files, start a real Daphne against the
test MongoDB-protocol server and the local Redis; and nginx, configured from
deploy/nginx.conf, carries WebSockets to two such replicas.
"""

import asyncio
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys

import pytest
import websockets

from arraystream.embedded_mongo import is_listening
from arraystream.testing import BASE_DIR, DaphneServer, free_port, wait_until
from arraystream.tests.deployment import (
    DEVELOPMENT_ONLY,
    PUBLIC_HOST,
    MissingVariable,
    Reset,
    build_context,
    compose_variables,
    dockerfile_instructions,
    env_example_values,
    env_example_variables,
    get,
    get_url,
    interpolate,
    load_compose,
    production_variables,
    proxy_config,
    read,
    readme_table_variables,
    settings_variables,
    start_web,
    tls_context,
    web_command,
    web_environment,
)


# --- Compose files ---------------------------------------------------------


def test_compose_files_name_the_services_the_readme_promises():
    base = load_compose("docker-compose.yml")["services"]
    production = load_compose("docker-compose.prod.yml")["services"]
    readme = read("README.md")

    assert set(base) == {"web", "mongo", "redis"}
    assert set(production) == {"web", "mongo", "redis", "proxy"}
    for service in ("web", "mongo", "redis", "proxy"):
        assert f"`{service}`" in readme


@pytest.mark.parametrize(
    ("file", "service", "pattern"),
    [
        ("docker-compose.yml", "mongo", r"^mongo:\d+\.\d+\.\d+$"),
        ("docker-compose.yml", "redis", r"^redis:\d+\.\d+\.\d+(-alpine)?$"),
        ("docker-compose.prod.yml", "proxy", r"^nginx:\d+\.\d+\.\d+(-alpine)?$"),
    ],
)
def test_images_are_official_with_pinned_versions(file, service, pattern):
    image = load_compose(file)["services"][service]["image"]

    assert re.match(pattern, image), image
    assert f"`{image}`" in read("README.md")


def test_mongo_keeps_its_data_in_a_named_volume():
    compose = load_compose("docker-compose.yml")

    assert "mongo-data" in compose["volumes"]
    assert "mongo-data:/data/db" in compose["services"]["mongo"]["volumes"]
    assert "`mongo-data`" in read("README.md")


@pytest.mark.parametrize(
    ("file", "service", "probe"),
    [
        ("docker-compose.yml", "web", "deploy/healthcheck.py"),
        ("docker-compose.yml", "mongo", "ping"),
        ("docker-compose.yml", "redis", "ping"),
        ("docker-compose.prod.yml", "mongo", "isWritablePrimary"),
        ("docker-compose.prod.yml", "proxy", "/proxy-health"),
    ],
)
def test_every_service_has_a_health_check(file, service, probe):
    check = load_compose(file)["services"][service]["healthcheck"]

    assert check["test"][0] == "CMD"
    assert probe in " ".join(check["test"])


def test_web_starts_after_mongo_and_redis_are_healthy():
    depends = load_compose("docker-compose.yml")["services"]["web"]["depends_on"]

    assert depends == {
        "mongo": {"condition": "service_healthy"},
        "redis": {"condition": "service_healthy"},
    }


def test_production_runs_replicas_behind_the_proxy_with_no_database_port():
    production = load_compose("docker-compose.prod.yml")["services"]
    replicas = interpolate(str(production["web"]["deploy"]["replicas"]), {})

    assert int(replicas) >= 2
    for service in ("web", "mongo", "redis"):
        assert isinstance(production[service]["ports"], Reset)
        assert production[service]["ports"].value == []
    assert production["proxy"]["depends_on"]["web"]["condition"] == "service_healthy"
    proxy_config_mount = "./deploy/nginx.conf:/etc/nginx/conf.d/default.conf:ro"
    assert proxy_config_mount in production["proxy"]["volumes"]
    for service in production.values():
        assert service["restart"] == "unless-stopped"


def test_production_turns_debug_off_and_requires_the_secrets():
    environment = load_compose("docker-compose.prod.yml")["services"]["web"][
        "environment"
    ]

    assert environment["DEBUG"] == "false"
    for name in ("SECRET_KEY", "ALLOWED_HOSTS", "CSRF_TRUSTED_ORIGINS"):
        with pytest.raises(MissingVariable, match=name):
            web_environment({**production_variables(), name: ""})
    resolved = web_environment(production_variables())
    assert resolved["ARRAYSTREAM_HTTPS"] == "true"
    assert resolved["MONGODB_URI"].endswith("?replicaSet=rs0")


def test_a_copy_of_the_env_example_keeps_the_production_defaults():
    # The README's production steps: copy .env.example to .env, fill it in.
    resolved = web_environment({**env_example_values(), **production_variables()})

    assert resolved["DEBUG"] == "false"
    assert resolved["ARRAYSTREAM_HTTPS"] == "true"
    assert resolved["ARRAYSTREAM_LOG_FORMAT"] == "json"


def test_proxy_carries_websockets_to_any_replica():
    config = read("deploy/nginx.conf")
    websocket_block = config[config.index("location /ws/") :]

    assert "proxy_set_header Upgrade $http_upgrade;" in websocket_block
    assert "proxy_set_header Connection $connection_upgrade;" in websocket_block
    assert "proxy_http_version 1.1;" in config
    assert "proxy_pass http://$web_upstream;" in websocket_block
    assert "set $web_upstream web:8000;" in config
    # Sticky-free: no per-client hashing of any kind.
    assert not re.search(r"^\s*(ip_hash|hash|sticky)\b", config, re.M)


def test_every_variable_is_documented_in_the_readme_and_env_example():
    readme = readme_table_variables()
    example = env_example_variables()
    from_settings = settings_variables()
    from_compose = compose_variables()

    assert from_settings <= readme, from_settings - readme
    assert from_compose <= readme, from_compose - readme
    assert from_settings - DEVELOPMENT_ONLY <= example, from_settings - example
    assert from_compose <= example, from_compose - example
    assert example <= from_settings | from_compose, example - from_settings


# --- Dockerfile ------------------------------------------------------------


def test_dockerfile_builds_a_slim_image_that_runs_daphne_as_a_user():
    instructions = dockerfile_instructions()
    values = {keyword: rest for keyword, rest in instructions}

    assert re.match(r"^python:\d+\.\d+\.\d+-slim", values["FROM"])
    assert values["USER"] not in {"root", "0"}
    assert "deploy/healthcheck.py" in values["HEALTHCHECK"]
    assert json.loads(values["CMD"]) == web_command()
    assert web_command()[0] == "daphne"
    keywords = [keyword for keyword, _ in instructions]
    assert keywords.index("USER") > keywords.index("RUN")


def test_dockerignore_keeps_secrets_and_local_state_out_of_the_image():
    patterns = read(".dockerignore").splitlines()

    for pattern in (".env", ".git", ".venv", "var", "staticfiles"):
        assert pattern in patterns


@pytest.mark.slow
def test_dockerfile_install_and_collectstatic_steps_run_in_order(tmp_path):
    app = tmp_path / "app"
    build_context(app)
    assert not (app / ".env").exists() and not (app / ".venv").exists()
    virtualenv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", virtualenv], check=True)
    environment = {"PATH": f"{virtualenv}/bin:/usr/bin:/bin", "HOME": str(tmp_path)}

    ran = []
    for keyword, rest in dockerfile_instructions():
        if keyword == "ENV":
            environment.update(item.split("=", 1) for item in shlex.split(rest))
        elif keyword == "RUN" and ("pip install" in rest or "manage.py" in rest):
            step = subprocess.run(
                ["sh", "-c", rest],
                cwd=app,
                env=environment,
                capture_output=True,
                text=True,
                timeout=600,
            )
            assert step.returncode == 0, f"{rest}\n{step.stdout}\n{step.stderr}"
            ran.append(rest)
        elif keyword == "RUN":
            # The only other step creates the image's user: not for this host.
            assert rest.startswith("useradd ")

    assert len(ran) == 2
    assert ran[0].startswith("pip install") and "requirements.txt" in ran[0]
    assert "manage.py collectstatic --noinput" in ran[1]
    collected = app / "staticfiles"
    assert (collected / "rest_framework").is_dir()
    assert (collected / "drf_spectacular_sidecar" / "swagger-ui-dist").is_dir()
    assert (collected / "arraystream").is_dir()
    # The runtime requirements alone are enough for the project to load.
    check = subprocess.run(
        ["python", "manage.py", "check", "--deploy"],
        cwd=app,
        env={
            **environment,
            **web_environment(production_variables(MONGODB_URI="mongodb://x/")),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert check.returncode == 0, check.stderr


# --- The web process, started as Compose starts it -------------------------


@pytest.mark.slow
def test_web_process_as_compose_starts_it_serves_readyz(
    mongo_server, redis_url, tmp_path
):
    environment = web_environment(
        production_variables(
            MONGODB_URI=mongo_server.uri,
            MONGODB_DB=os.environ["MONGODB_DB"],
            REDIS_URL=redis_url,
        )
    )
    port = free_port()
    log_path = tmp_path / "web.log"
    process = start_web(environment, port, log_path)
    try:
        assert wait_until(
            lambda: is_listening(port) or process.poll() is not None, timeout=30
        )
        assert process.poll() is None, log_path.read_text()
        ready = get(port, "/readyz")
        plain = get(port, "/api/generate")
        secure = get(port, "/api/generate", **{"X-Forwarded-Proto": "https"})
        healthcheck = subprocess.run(
            [sys.executable, "deploy/healthcheck.py", str(port)],
            cwd=BASE_DIR,
            env={**os.environ, "ALLOWED_HOSTS": environment["ALLOWED_HOSTS"]},
            capture_output=True,
            timeout=30,
        )
        assert wait_until(
            lambda: "path=/api/generate" in log_path.read_text(), timeout=10
        )
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=15)

    status, _, body = ready
    assert status == 200, body
    assert json.loads(body)["checks"] == {"mongodb": "ok", "channel_layer": "ok"}
    # Behind the TLS-terminating proxy: plain HTTP is sent to HTTPS, with HSTS.
    assert plain[0] == 301
    assert plain[1]["Location"] == f"https://{PUBLIC_HOST}/api/generate"
    assert secure[0] == 200
    assert "max-age=31536000" in secure[1]["Strict-Transport-Security"]
    assert healthcheck.returncode == 0, healthcheck.stderr
    log_lines = [
        json.loads(line)
        for line in log_path.read_text().splitlines()
        if line.startswith("{")
    ]
    requests = [entry["message"] for entry in log_lines]
    assert any(
        re.fullmatch(r"request method=GET path=/api/generate status=200 ms=[\d.]+", m)
        for m in requests
    ), requests


def test_healthcheck_fails_when_nothing_answers():
    result = subprocess.run(
        [sys.executable, "deploy/healthcheck.py", str(free_port())],
        cwd=BASE_DIR,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 1
    assert "unhealthy" in result.stderr


# --- The proxy in front of several replicas --------------------------------


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("nginx") is None,
    reason="nginx is not installed: apt-get install nginx",
)
async def test_proxy_spreads_websockets_over_replicas_that_all_see_every_array(
    redis_url, tmp_path
):
    stream = f"proxy-{secrets.token_hex(6)}"
    replica_env = {"REDIS_URL": redis_url, "ARRAYSTREAM_HTTPS": "true"}
    replicas = [
        DaphneServer(env=replica_env, log_path=tmp_path / f"replica-{number}.log")
        for number in (1, 2)
    ]
    http, https = free_port(), free_port()
    config = proxy_config(
        tmp_path,
        replicas=[replica.port for replica in replicas],
        http=http,
        https=https,
    )
    checked = subprocess.run(
        ["nginx", "-t", "-c", str(config), "-p", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stderr

    for replica in replicas:
        await asyncio.to_thread(replica.start)
    proxy = subprocess.Popen(
        ["nginx", "-c", str(config), "-p", str(tmp_path)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    sockets = []
    try:
        assert await asyncio.to_thread(
            wait_until, lambda: is_listening(https), timeout=10
        )
        health = await asyncio.to_thread(
            get_url, f"http://127.0.0.1:{http}/proxy-health"
        )
        redirect = await asyncio.to_thread(
            get_url, f"http://127.0.0.1:{http}/api/generate"
        )
        ready = await asyncio.to_thread(get_url, f"https://127.0.0.1:{https}/readyz")
        for _ in range(4):
            socket = await websockets.connect(
                f"wss://127.0.0.1:{https}/ws/arrays/{stream}/",
                origin=f"https://127.0.0.1:{https}",
                ssl=tls_context(),
                proxy=None,
                open_timeout=10,
            )
            sockets.append(socket)
            welcome = json.loads(await asyncio.wait_for(socket.recv(), 10))
            assert welcome["type"] == "welcome"
        created = []
        for _ in range(3):
            status, _, body = await asyncio.to_thread(
                get_url,
                f"https://127.0.0.1:{https}/api/generate",
                body={"stream": stream},
            )
            assert status == 201, body
            created.append(json.loads(body)["id"])
        received = [
            [json.loads(await asyncio.wait_for(socket.recv(), 10)) for _ in range(3)]
            for socket in sockets
        ]
    finally:
        for socket in sockets:
            await socket.close()
        proxy.terminate()
        proxy.wait(timeout=10)
        for replica in replicas:
            await asyncio.to_thread(replica.stop)

    assert health[0] == 200
    assert redirect[0] == 301
    assert redirect[1]["Location"] == "https://127.0.0.1/api/generate"
    assert ready[0] == 200
    for frames in received:
        assert [frame["id"] for frame in frames] == created
        assert [frame["seq"] for frame in frames] == [1, 2, 3]
    # No stickiness: both replicas served some of the four sockets.
    for replica in replicas:
        assert f"socket accepted stream={stream}" in replica.log_path.read_text()
