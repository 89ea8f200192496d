import orjson

from generator.records import new_array_frame, record_payload
from generator.serializers import ArrayRecordSerializer, ArrayRecordWithValuesSerializer
from generator.tests.factories import create_array


def test_record_payload_matches_the_documented_serializer():
    created = create_array(
        range_start=-3, range_end=3, seed=2**64 - 1, source="websocket"
    )

    payload = record_payload(created.record)

    assert payload == dict(ArrayRecordSerializer(created.record).data)


def test_record_payload_with_values_has_every_documented_field():
    created = create_array(
        range_start=-3, range_end=3, seed=2**64 - 1, source="websocket"
    )

    payload = record_payload(created.record, created.values)

    assert set(payload) == set(ArrayRecordWithValuesSerializer().fields)
    assert orjson.loads(orjson.dumps(payload, option=orjson.OPT_SERIALIZE_NUMPY))[
        "array"
    ] == created.values.tolist()


def test_new_array_frame_splices_the_record_without_re_encoding():
    frame = new_array_frame('{"seq":3,"array":[1,2]}', request_id="r-1")

    assert orjson.loads(frame) == {
        "type": "new_array",
        "request_id": "r-1",
        "seq": 3,
        "array": [1, 2],
    }
