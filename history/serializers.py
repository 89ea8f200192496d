from rest_framework import serializers

from generator.serializers import (
    DEFAULT_STREAM,
    SAFE_INTEGER,
    STREAM_PATTERN,
    StrictIntegerField,
)

MAX_LIMIT = 100


class HistoryQuerySerializer(serializers.Serializer):
    """Validate the query string of a history request."""

    limit = StrictIntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    stream = serializers.RegexField(
        STREAM_PATTERN,
        required=False,
        error_messages={
            "invalid": "stream must be 1 to 64 characters of a-z, 0-9, - and _."
        },
    )
    before_seq = StrictIntegerField(required=False, min_value=1, max_value=SAFE_INTEGER)
    include_array = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        attrs.setdefault("limit", 10)
        attrs.setdefault("stream", DEFAULT_STREAM)
        attrs.setdefault("before_seq", None)
        return attrs
