"""Health check of the web container: exit 0 when /healthz answers 200.

Docker runs it inside the container (see the Dockerfile's HEALTHCHECK). It
needs only the standard library. The request carries the first name of
ALLOWED_HOSTS as its Host header, because Django refuses any other host.

Usage: python deploy/healthcheck.py [PORT]   (8000 by default)
"""

import os
import sys
import urllib.request

DEFAULT_PORT = 8000
TIMEOUT_SECONDS = 4


def allowed_host() -> str:
    """Return a host name that ALLOWED_HOSTS accepts."""
    for entry in os.environ.get("ALLOWED_HOSTS", "").split(","):
        # ".example.com" allows example.com itself too; "*" allows anything.
        host = entry.strip().lstrip(".")
        if host and host != "*":
            return host
    return "localhost"


def main(argv: list[str]) -> int:
    port = int(argv[1]) if len(argv) > 1 else DEFAULT_PORT
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/healthz", headers={"Host": allowed_host()}
    )
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            status = response.status
    except OSError as error:  # URLError and timeouts included
        print(f"unhealthy: GET /healthz failed: {error}", file=sys.stderr)
        return 1
    if status != 200:
        print(f"unhealthy: GET /healthz answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
