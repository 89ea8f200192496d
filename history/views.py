"""The history API: a stream's stored arrays, newest first."""

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from generator import records, storage
from generator.serializers import ArrayRecordWithValuesSerializer
from history import selectors
from history.serializers import HistoryQuerySerializer


class HistoryView(APIView):
    """List a stream's arrays, newest first; page back with `before_seq`."""

    @extend_schema(
        parameters=[HistoryQuerySerializer],
        responses=inline_serializer(
            "HistoryPage",
            {
                "stream": serializers.CharField(),
                "results": ArrayRecordWithValuesSerializer(many=True),
                "next_before_seq": serializers.IntegerField(allow_null=True),
            },
        ),
    )
    def get(self, request):
        query = HistoryQuerySerializer(data=request.query_params)
        query.is_valid(raise_exception=True)
        params = query.validated_data

        found = selectors.array_list(
            stream=params["stream"],
            before_seq=params["before_seq"],
            limit=params["limit"],
        )
        results = [
            records.record_payload(
                record,
                storage.load_values(record) if params["include_array"] else None,
            )
            for record in found
        ]
        return Response(
            {
                "stream": params["stream"],
                "results": results,
                "next_before_seq": selectors.next_before_seq(
                    found, limit=params["limit"]
                ),
            }
        )
