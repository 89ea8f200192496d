"""REST endpoints that generate arrays and serve stored ones."""

from django.conf import settings
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import status, viewsets
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from generator import records, services, storage
from generator.renderers import ArrayCSVRenderer, ArrayNPYRenderer, EncodedJSON
from generator.serializers import (
    DEFAULT_RANGE_END,
    DEFAULT_RANGE_START,
    DEFAULT_STREAM,
    MAX_SEED,
    SAFE_INTEGER,
    ArrayRecordSerializer,
    ArrayRecordWithValuesSerializer,
    GenerateRequestSerializer,
)
from generator.throttling import GenerateRateThrottle
from history import selectors


class GenerateArrayView(APIView):
    """Generate an array of random integers, store it and broadcast it."""

    throttle_classes = [GenerateRateThrottle]
    throttle_scope = "generate"
    serializer_class = GenerateRequestSerializer

    def get_serializer(self, *args, **kwargs):
        # Lets the browsable API draw the request form.
        return GenerateRequestSerializer(*args, **kwargs)

    def get_throttles(self):
        # Reading the limits is free; only generating is rate limited.
        return super().get_throttles() if self.request.method == "POST" else []

    @extend_schema(responses={200: OpenApiTypes.OBJECT})
    def get(self, request):
        """Describe the defaults and limits of a generation request."""
        return Response(
            {
                "defaults": {
                    "size": settings.ARRAYSTREAM_MIN_SIZE,
                    "range_start": DEFAULT_RANGE_START,
                    "range_end": DEFAULT_RANGE_END,
                    "stream": DEFAULT_STREAM,
                },
                "limits": {
                    "size": [
                        settings.ARRAYSTREAM_MIN_SIZE,
                        settings.ARRAYSTREAM_MAX_SIZE,
                    ],
                    "range": [-SAFE_INTEGER, SAFE_INTEGER],
                    "seed": [0, MAX_SEED],
                    "broadcast_max_size": settings.ARRAYSTREAM_BROADCAST_MAX_SIZE,
                },
            }
        )

    @extend_schema(
        request=GenerateRequestSerializer,
        responses={201: ArrayRecordWithValuesSerializer},
    )
    def post(self, request):
        serializer = GenerateRequestSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)

        created = services.array_create(**serializer.validated_data, source="api")

        return Response(EncodedJSON(created.json), status=status.HTTP_201_CREATED)


class ArrayPagination(PageNumberPagination):
    page_size = 20
    page_size_query_param = "page_size"
    max_page_size = 100


class ArrayViewSet(viewsets.ViewSet):
    """Stored arrays, newest first; one array's values as JSON, CSV or .npy."""

    pagination_class = ArrayPagination

    def get_renderers(self):
        renderers = super().get_renderers()
        if self.action == "retrieve":
            renderers += [ArrayCSVRenderer(), ArrayNPYRenderer()]
        return renderers

    @extend_schema(
        parameters=[OpenApiParameter("stream", str, description="Only this stream")],
        responses=ArrayRecordSerializer(many=True),
    )
    def list(self, request):
        stream = request.query_params.get("stream") or None
        paginator = self.pagination_class()
        page = paginator.paginate_queryset(
            selectors.array_queryset(stream=stream), request, view=self
        )
        payloads = [records.record_payload(record) for record in page]
        return paginator.get_paginated_response(payloads)

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "id", str, OpenApiParameter.PATH, description="The array's id"
            )
        ],
        responses=ArrayRecordWithValuesSerializer,
    )
    def retrieve(self, request, pk=None):
        record = selectors.array_get(array_id=pk)
        values = storage.load_values(record)
        response = Response(records.record_payload(record, values))
        if request.accepted_renderer.format in {"csv", "npy"}:
            extension = request.accepted_renderer.format
            response["Content-Disposition"] = (
                f'attachment; filename="array-{record.stream}-{record.seq}.{extension}"'
            )
        return response
