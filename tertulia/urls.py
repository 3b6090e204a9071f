from django.urls import include, path

from tertulia.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("tertulia.content.urls")),
    path("", include("tertulia.core.urls")),
    path("", include("tertulia.strategy.urls")),
]
