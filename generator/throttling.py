"""Rate limits on generation."""

import logging

from rest_framework.throttling import ScopedRateThrottle

logger = logging.getLogger(__name__)


class GenerateRateThrottle(ScopedRateThrottle):
    """Limit generation per client address, and let requests through when
    the cache that counts them (Redis, when configured) is down.

    Refusing every request because the counter is unreachable would turn a
    Redis outage into an outage of the whole API.
    """

    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except Exception as error:  # the cache backend's own connection errors
            logger.warning(
                "rate limit not applied: the cache did not answer (%r); check "
                "REDIS_URL",
                error,
            )
            return True
