"""Read the deployment files as data and run their parts on this machine.

Helpers for the deployment tests: the Compose files (with Compose's variable
substitution and merge tags), the Dockerfile's instructions, the web command
started as Compose starts it, and deploy/nginx.conf set up for local ports.
"""

import json
import os
import re
import secrets
import shutil
import ssl
import subprocess
import sys
import urllib.error
import urllib.request
from fnmatch import fnmatch
from pathlib import Path

import yaml

from arraystream.testing import BASE_DIR

PUBLIC_HOST = "arrays.example.com"

SETTING_READ = re.compile(r"env_(?:str|int|bool|list|float)\(\s*\"([A-Z][A-Z0-9_]*)\"")

COMPOSE_VARIABLE = re.compile(
    r"\$\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?])(?P<arg>[^}]*))?\}"
)

# Read by the settings for development only; production never sets them.
DEVELOPMENT_ONLY = {"ARRAYSTREAM_DATA_DIR", "ARRAYSTREAM_EMBEDDED_MONGODB_PORT"}


class Reset:
    """Hold a value tagged `!reset`: it replaces the base file's, unmerged."""

    def __init__(self, value):
        self.value = value


class ComposeLoader(yaml.SafeLoader):
    """A YAML loader that knows Compose's merge tags."""


def construct_reset(loader, node):
    if isinstance(node, yaml.SequenceNode):
        return Reset(loader.construct_sequence(node))
    if isinstance(node, yaml.MappingNode):
        return Reset(loader.construct_mapping(node))
    return Reset(loader.construct_scalar(node))


ComposeLoader.add_constructor("!reset", construct_reset)


class MissingVariable(Exception):
    pass


def read(name: str) -> str:
    return (BASE_DIR / name).read_text()


def load_compose(name: str) -> dict:
    return yaml.load(read(name), Loader=ComposeLoader)


def interpolate(text: str, variables: dict) -> str:
    """Substitute ${NAME}, ${NAME:-default} and ${NAME:?error} as Compose does."""

    def substitute(match):
        name, op, arg = match["name"], match["op"], match["arg"]
        value = variables.get(name)
        if op in (":-", "-"):
            unset = not value if op == ":-" else value is None
            return arg if unset else value
        if op in (":?", "?"):
            if (not value) if op == ":?" else value is None:
                raise MissingVariable(f"{name}: {arg}")
        return value or ""

    return COMPOSE_VARIABLE.sub(substitute, text)


def compose_variables() -> set[str]:
    text = read("docker-compose.yml") + read("docker-compose.prod.yml")
    return {match["name"] for match in COMPOSE_VARIABLE.finditer(text)}


def settings_variables() -> set[str]:
    return set(SETTING_READ.findall(read("arraystream/settings.py")))


def readme_table_variables() -> set[str]:
    rows = [line for line in read("README.md").splitlines() if line.startswith("|")]
    return {name for row in rows for name in re.findall(r"^\|\s*`([A-Z_0-9]+)`", row)}


def env_example_variables() -> set[str]:
    return set(re.findall(r"^#?\s*([A-Z][A-Z0-9_]*)=", read(".env.example"), re.M))


def env_example_values() -> dict[str, str]:
    """The variables .env.example sets (not those it shows commented out)."""
    return dict(re.findall(r"^([A-Z][A-Z0-9_]*)=(.*)$", read(".env.example"), re.M))


def web_environment(variables: dict) -> dict:
    """The web service's environment in production, as Compose resolves it."""
    merged = {
        **load_compose("docker-compose.yml")["services"]["web"]["environment"],
        **load_compose("docker-compose.prod.yml")["services"]["web"]["environment"],
    }
    return {name: interpolate(str(value), variables) for name, value in merged.items()}


def production_variables(**extra: str) -> dict:
    """What an operator's .env holds, with the services of this machine."""
    return {
        "SECRET_KEY": secrets.token_urlsafe(50),
        "ALLOWED_HOSTS": PUBLIC_HOST,
        "CSRF_TRUSTED_ORIGINS": f"https://{PUBLIC_HOST}",
        **extra,
    }


def dockerfile_instructions() -> list[tuple[str, str]]:
    text = re.sub(r"\\\n", " ", read("Dockerfile"))
    instructions = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            keyword, _, rest = line.partition(" ")
            instructions.append((keyword.upper(), rest.strip()))
    return instructions


def web_command() -> list[str]:
    return load_compose("docker-compose.yml")["services"]["web"]["command"]


def build_context(destination: Path) -> None:
    """Copy what `docker build` sends, leaving out what .dockerignore names."""
    patterns = [
        line.strip()
        for line in read(".dockerignore").splitlines()
        if line.strip() and not line.startswith("#")
    ]

    def ignored(folder, names):
        relative_folder = Path(folder).relative_to(BASE_DIR)
        left_out = set()
        for name in names:
            relative = str(relative_folder / name).removeprefix("./")
            for pattern in patterns:
                if pattern.startswith("**/") and fnmatch(name, pattern[3:]):
                    left_out.add(name)
                elif fnmatch(relative, pattern):
                    left_out.add(name)
        return left_out

    shutil.copytree(BASE_DIR, destination, ignore=ignored, symlinks=True)


def manage(*args: str, environment: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=BASE_DIR,
        env={
            "PATH": os.environ["PATH"],
            "HOME": os.environ.get("HOME", "/"),
            **environment,
        },
        capture_output=True,
        text=True,
        timeout=120,
    )


def start_web(environment: dict, port: int, log_path: Path) -> subprocess.Popen:
    command = [
        {"0.0.0.0": "127.0.0.1", "8000": str(port)}.get(part, part)
        for part in web_command()
    ]
    with open(log_path, "wb") as log:
        return subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env={
                "PATH": f"{Path(sys.executable).parent}:/usr/bin:/bin",
                "HOME": os.environ.get("HOME", "/"),
                **environment,
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def get(port: int, path: str, **headers: str):
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}", headers={"Host": PUBLIC_HOST, **headers}
    )
    opener = urllib.request.build_opener(NoRedirect)
    try:
        with opener.open(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()


class NoRedirect(urllib.request.HTTPRedirectHandler):
    """Hand redirects back as answers, so tests can check where they point."""

    def redirect_request(self, *args, **kwargs):
        return None


def proxy_config(tmp_path: Path, *, replicas: list[int], http: int, https: int):
    """deploy/nginx.conf with this machine's ports, certificate and replicas.

    The upstream group named in `$web_upstream` stands for what Docker's DNS
    answers for `web`: every replica, used in turn.
    """
    config = read("deploy/nginx.conf")
    replacements = {
        "listen 80;": f"listen 127.0.0.1:{http};",
        "listen 443 ssl;": f"listen 127.0.0.1:{https} ssl;",
        "/etc/nginx/certs/": f"{tmp_path}/certs/",
        "set $web_upstream web:8000;": "set $web_upstream web_replicas;",
    }
    for old, new in replacements.items():
        assert old in config, old
        config = config.replace(old, new)
    servers = "".join(f"    server 127.0.0.1:{port};\n" for port in replicas)
    (tmp_path / "default.conf").write_text(
        f"upstream web_replicas {{\n{servers}}}\n{config}"
    )
    for folder in ("certs", "temp"):
        (tmp_path / folder).mkdir()
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1"]
        + ["-subj", f"/CN={PUBLIC_HOST}"]
        + ["-keyout", f"{tmp_path}/certs/privkey.pem"]
        + ["-out", f"{tmp_path}/certs/fullchain.pem"],
        check=True,
        capture_output=True,
    )
    main = tmp_path / "nginx.conf"
    main.write_text(
        f"""daemon off;
master_process off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{ worker_connections 256; }}
http {{
    access_log {tmp_path}/access.log;
    client_body_temp_path {tmp_path}/temp/body;
    proxy_temp_path {tmp_path}/temp/proxy;
    fastcgi_temp_path {tmp_path}/temp/fastcgi;
    uwsgi_temp_path {tmp_path}/temp/uwsgi;
    scgi_temp_path {tmp_path}/temp/scgi;
    include {tmp_path}/default.conf;
}}
"""
    )
    return main


def tls_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    # The test's own self-signed certificate.
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def get_url(url: str, body: dict | None = None):
    request = urllib.request.Request(
        url,
        data=None if body is None else json.dumps(body).encode(),
        headers={"Content-Type": "application/json"} if body is not None else {},
    )
    opener = urllib.request.build_opener(
        NoRedirect, urllib.request.HTTPSHandler(context=tls_context())
    )
    try:
        with opener.open(request, timeout=15) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        return error.code, dict(error.headers), error.read()
