from django.urls import include, path

from tertulia.api.api import api

urlpatterns = [
    path("api/v1/", api.urls),
    path("", include("tertulia.core.urls_ops")),
    path("", include("tertulia.content.urls")),
    path("", include("tertulia.content.urls_calendar")),
    path("", include("tertulia.content.urls_compose")),
    path("", include("tertulia.content.urls_ideas")),
    path("", include("tertulia.content.urls_review")),
    path("", include("tertulia.publishing.urls")),
    path("", include("tertulia.core.urls")),
    path("", include("tertulia.strategy.urls")),
    path("", include("tertulia.networks.urls")),
    path("", include("tertulia.inbox.urls")),
    path("", include("tertulia.inbox.urls_settings")),
    path("", include("tertulia.listening.urls_mentions")),
    path("", include("tertulia.listening.urls_trends")),
    path("", include("tertulia.listening.urls_competitors")),
    path("", include("tertulia.giveaways.urls")),
    path("", include("tertulia.reports.urls")),
    path("", include("tertulia.analytics.urls")),
    path("", include("tertulia.analytics.urls_data")),
]
