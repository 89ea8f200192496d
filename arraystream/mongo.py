"""Connect MongoEngine to the configured MongoDB, or to the embedded server."""

import logging

import mongoengine
from django.conf import settings

from arraystream.embedded_mongo import ensure_embedded_server

logger = logging.getLogger(__name__)


def mongodb_uri() -> str:
    if settings.MONGODB_URI:
        return settings.MONGODB_URI
    return ensure_embedded_server(
        port=settings.EMBEDDED_MONGODB_PORT, data_dir=settings.DATA_DIR
    )


def connect(uri: str | None = None) -> None:
    """Register the default MongoEngine connection.

    The client connects lazily and gives up on a server after
    MONGODB_TIMEOUT_MS, so that an unreachable MongoDB turns into a quick,
    clear error instead of a request that hangs for pymongo's default 30 s.
    """
    timeout_ms = settings.MONGODB_TIMEOUT_MS
    mongoengine.disconnect()
    mongoengine.connect(
        db=settings.MONGODB_DB,
        host=uri or mongodb_uri(),
        serverSelectionTimeoutMS=timeout_ms,
        connectTimeoutMS=timeout_ms,
        # Long enough for a 40 MB GridFS write on a slow disk.
        socketTimeoutMS=max(timeout_ms, 60_000),
        uuidRepresentation="standard",
        tz_aware=True,
        connect=False,
    )
