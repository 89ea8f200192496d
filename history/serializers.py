from rest_framework import serializers

from generator.serializers import (
    DEFAULT_STREAM,
    SAFE_INTEGER,
    StreamNameField,
    StrictIntegerField,
)

MAX_LIMIT = 100


class HistoryQuerySerializer(serializers.Serializer):
    """Validate the query string of a history request."""

    limit = StrictIntegerField(required=False, min_value=1, max_value=MAX_LIMIT)
    stream = StreamNameField(required=False)
    before_seq = StrictIntegerField(required=False, min_value=1, max_value=SAFE_INTEGER)
    include_array = serializers.BooleanField(required=False, default=False)

    def validate(self, attrs):
        attrs.setdefault("limit", 10)
        attrs.setdefault("stream", DEFAULT_STREAM)
        attrs.setdefault("before_seq", None)
        return attrs
