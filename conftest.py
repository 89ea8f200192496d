"""Fixtures shared by every app: a real MongoDB-protocol server per session.

The environment (MongoDB address, secret key) is set earlier, by the
`arraystream.test_environment` plugin named in pytest.ini.
"""

import os

import pytest

from arraystream.test_environment import MONGODB_PORT
from arraystream.testing import MongoServer

REDIS_TEST_URL = os.environ.get("ARRAYSTREAM_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def mongo_server(tmp_path_factory):
    server = MongoServer(port=MONGODB_PORT, data_dir=tmp_path_factory.mktemp("mongodb"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(autouse=True)
def clean_database(mongo_server):
    """Start every test on an empty test database with its indexes."""
    from mongoengine.connection import get_db

    from generator.documents import ensure_indexes

    if not mongo_server.process or mongo_server.process.poll() is not None:
        mongo_server.start()
    database = get_db()
    database.client.drop_database(database.name)
    ensure_indexes()
    yield


@pytest.fixture
def redis_url():
    import redis

    client = redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=2)
    try:
        client.ping()
    except redis.exceptions.ConnectionError as error:
        pytest.fail(
            f"Redis is not reachable at {REDIS_TEST_URL}: {error}. Start it with "
            "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save ''"
        )
    finally:
        client.close()
    return REDIS_TEST_URL
