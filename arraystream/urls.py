from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView

from arraystream import health
from generator.pages import home
from history.pages import history_page

urlpatterns = [
    path("", home, name="home"),
    path("history/", history_page, name="history"),
    path("api/", include("generator.urls")),
    path("api/", include("history.urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
]
