"""Environment for the test suite, loaded as a pytest plugin (see pytest.ini).

It has to run before pytest-django imports the settings, which is earlier
than any conftest.py: the settings read the MongoDB address and the secret
key from the environment. The MongoDB-protocol server itself is started on
the chosen port by the `mongo_server` fixture in conftest.py; MongoEngine
connects lazily, so nothing talks to it before then.
"""

import os

from arraystream.testing import free_port

MONGODB_PORT = free_port()
os.environ["MONGODB_URI"] = f"mongodb://127.0.0.1:{MONGODB_PORT}/"
os.environ["MONGODB_DB"] = "arraystream_test"
os.environ.setdefault("SECRET_KEY", "tests-only-secret-key")
# Tests that need Redis ask for it; the rest use the in-memory layer.
os.environ.pop("REDIS_URL", None)
os.environ.pop("DEBUG", None)
