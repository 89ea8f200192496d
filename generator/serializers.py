"""Validation of generation requests and the one shape of an array record.

The REST views, the WebSocket consumer and the `generate` command all
validate through `GenerateRequestSerializer`, so a request is accepted or
refused the same way, with the same messages, wherever it comes from.
"""

import re

from django.conf import settings
from django.http import QueryDict
from rest_framework import serializers

# Every client language holds integers up to 2**53 - 1 exactly.
SAFE_INTEGER = 2**53 - 1
MAX_SEED = 2**64 - 1
STREAM_PATTERN = r"^[a-z0-9_-]{1,64}$"
DEFAULT_STREAM = "global"
DEFAULT_RANGE_START = 0
DEFAULT_RANGE_END = 99_999
DECIMAL_DIGITS = re.compile(r"^-?\d{1,20}$")


class StrictIntegerField(serializers.IntegerField):
    """An integer that is really one: no booleans, floats, or numeric strings.

    Form submissions (the browsable API's HTML form, query strings) only
    carry text, so there, and only there, a string of decimal digits counts.
    """

    default_error_messages = {
        "invalid": "{name} must be a whole number from {min} to {max}; got {got}.",
    }

    def fail_value(self, data):
        """Refuse a value, naming the bounds and what was received."""
        got = "null" if data is None else repr(data)
        if isinstance(data, bool):
            got = "true" if data else "false"
        raise serializers.ValidationError(
            self.error_messages["invalid"].format(
                name=self.field_name,
                min=self.min_value,
                max=self.max_value,
                got=got,
            ),
            code="invalid",
        )

    def _is_form_input(self) -> bool:
        root = self.root
        return isinstance(getattr(root, "initial_data", None), QueryDict)

    def to_internal_value(self, data):
        if isinstance(data, str) and self._is_form_input():
            if not DECIMAL_DIGITS.match(data.strip()):
                self.fail_value(data)
            data = int(data.strip())
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail_value(data)
        if not self.min_value <= data <= self.max_value:
            self.fail_value(data)
        return data

    def run_validation(self, data=serializers.empty):
        # DRF turns an explicit null into "may not be null" without naming
        # the bounds; say the same thing as for any other wrong value.
        if data is None:
            self.fail_value(None)
        return super().run_validation(data)


def size_field() -> StrictIntegerField:
    return StrictIntegerField(
        required=False,
        min_value=settings.ARRAYSTREAM_MIN_SIZE,
        max_value=settings.ARRAYSTREAM_MAX_SIZE,
        help_text="How many values to draw.",
    )


STREAM_MESSAGE = "stream must be 1 to 64 characters of a-z, 0-9, - and _; got {got}."


class StreamNameField(serializers.RegexField):
    """A stream name: text only, never a number turned into text."""

    def __init__(self, **kwargs):
        super().__init__(STREAM_PATTERN, **kwargs)

    def fail_stream(self, data):
        got = "null" if data is None else repr(data)
        raise serializers.ValidationError(
            STREAM_MESSAGE.format(got=got), code="invalid"
        )

    def run_validation(self, data=serializers.empty):
        if data is not serializers.empty and not isinstance(data, str):
            self.fail_stream(data)
        try:
            return super().run_validation(data)
        except serializers.ValidationError:
            self.fail_stream(data)


class GenerateRequestSerializer(serializers.Serializer):
    """Validate the fields of a request to generate one array."""

    range_start = StrictIntegerField(
        required=False,
        min_value=-SAFE_INTEGER,
        max_value=SAFE_INTEGER,
        help_text="Smallest value that may be drawn (inclusive).",
    )
    range_end = StrictIntegerField(
        required=False,
        min_value=-SAFE_INTEGER,
        max_value=SAFE_INTEGER,
        help_text="Largest value that may be drawn (inclusive).",
    )
    seed = StrictIntegerField(
        required=False,
        min_value=0,
        max_value=MAX_SEED,
        help_text="Seed of the generator; drawn from OS entropy when omitted.",
    )
    stream = StreamNameField(
        required=False, help_text="Stream to publish on; 'global' when omitted."
    )

    def get_fields(self):
        # The size bounds are settings, read when the serializer is used so
        # that a changed setting (or a test's override) takes effect.
        return {"size": size_field(), **super().get_fields()}

    def to_internal_value(self, data):
        if not isinstance(data, dict):
            raise serializers.ValidationError(
                {"non_field_errors": ["The request body must be a JSON object."]},
                code="invalid",
            )
        return super().to_internal_value(data)

    def validate(self, attrs):
        attrs.setdefault("size", settings.ARRAYSTREAM_MIN_SIZE)
        attrs.setdefault("range_start", DEFAULT_RANGE_START)
        attrs.setdefault("range_end", DEFAULT_RANGE_END)
        attrs.setdefault("seed", None)
        attrs.setdefault("stream", DEFAULT_STREAM)
        if attrs["range_start"] > attrs["range_end"]:
            raise serializers.ValidationError(
                {
                    "range_end": [
                        "range_end must be greater than or equal to range_start; "
                        f"got range_start={attrs['range_start']}, "
                        f"range_end={attrs['range_end']}."
                    ]
                },
                code="invalid",
            )
        return attrs


class ArrayStatsSerializer(serializers.Serializer):
    min = serializers.IntegerField()
    max = serializers.IntegerField()
    mean = serializers.FloatField()
    std = serializers.FloatField()


class ArrayRecordSerializer(serializers.Serializer):
    """The record of one array, as every API and stream frame shows it."""

    id = serializers.CharField()
    stream = serializers.CharField()
    seq = serializers.IntegerField()
    size = serializers.IntegerField()
    range_start = serializers.IntegerField()
    range_end = serializers.IntegerField()
    seed = serializers.IntegerField()
    dtype = serializers.CharField()
    stats = ArrayStatsSerializer()
    preview = serializers.ListField(child=serializers.IntegerField())
    created_at = serializers.DateTimeField()
    source = serializers.CharField()


class ArrayRecordWithValuesSerializer(ArrayRecordSerializer):
    """The record with its values, for the OpenAPI document."""

    array = serializers.ListField(child=serializers.IntegerField())
