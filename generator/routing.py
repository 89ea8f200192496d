"""WebSocket routes: one consumer serves every stream."""

from django.urls import re_path

from generator.consumers import ArrayStreamConsumer, UnknownPathConsumer

websocket_urlpatterns = [
    re_path(r"^ws/arrays/$", ArrayStreamConsumer.as_asgi()),
    # Any name reaches the consumer, which tells a client with a bad one why
    # it is refused instead of failing the handshake without a word.
    re_path(r"^ws/arrays/(?P<stream>[^/]+)/$", ArrayStreamConsumer.as_asgi()),
    re_path(r"", UnknownPathConsumer.as_asgi()),
]
