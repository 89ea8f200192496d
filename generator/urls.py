from django.urls import path
from rest_framework.routers import SimpleRouter

from generator.views import ArrayViewSet, GenerateArrayView

router = SimpleRouter()
router.register("arrays", ArrayViewSet, basename="array")

urlpatterns = [
    path("generate", GenerateArrayView.as_view(), name="generate"),
    *router.urls,
]
