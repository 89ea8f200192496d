"""Log every HTTP request as one line: method, path, status and milliseconds."""

import logging
import time

from asgiref.sync import iscoroutinefunction, markcoroutinefunction

logger = logging.getLogger(__name__)

# Probed every few seconds by Docker and load balancers: their successes are
# logged at DEBUG so that they do not drown the requests of people.
PROBE_PATHS = frozenset({"/healthz", "/readyz"})


def log_request(request, response, started: float) -> None:
    milliseconds = (time.perf_counter() - started) * 1000
    level = logging.INFO
    if request.path in PROBE_PATHS and response.status_code == 200:
        level = logging.DEBUG
    logger.log(
        level,
        "request method=%s path=%s status=%d ms=%.1f",
        request.method,
        request.path,
        response.status_code,
        milliseconds,
    )


class RequestLogMiddleware:
    """Log each request once its response is ready, in sync and async stacks."""

    sync_capable = True
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request):
        if self.is_async:
            return self.__acall__(request)
        started = time.perf_counter()
        response = self.get_response(request)
        log_request(request, response, started)
        return response

    async def __acall__(self, request):
        started = time.perf_counter()
        response = await self.get_response(request)
        log_request(request, response, started)
        return response
