"""Turn service errors into REST responses in DRF's usual error shape."""

import logging

from rest_framework.response import Response
from rest_framework.views import exception_handler

from generator.exceptions import ArrayStreamError, StorageFailed, StorageUnavailable

logger = logging.getLogger(__name__)


def api_exception_handler(exc, context):
    if isinstance(exc, ArrayStreamError):
        if isinstance(exc, StorageUnavailable | StorageFailed):
            logger.warning("request refused: %s cause=%r", exc.message, exc.__cause__)
        return Response(exc.as_dict(), status=exc.status)
    return exception_handler(exc, context)
