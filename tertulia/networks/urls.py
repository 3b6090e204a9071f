from django.urls import include, path

from . import views

urlpatterns = [
    path("brands/<int:brand_id>/accounts/connect/mastodon/", views.mastodon_connect_start, name="mastodon_connect"),
    path("brands/<int:brand_id>/accounts/<int:account_id>/refresh-limits/", views.account_refresh_limits,
         name="account_refresh_limits"),
    path("networks/mastodon/callback/", views.mastodon_callback, name="mastodon_callback"),
    path("", include("tertulia.networks.meta.urls")),
    path("", include("tertulia.networks.threads.urls")),
    path("", include("tertulia.networks.linkedin.urls")),
    path("", include("tertulia.networks.x.urls")),
    path("", include("tertulia.networks.youtube.urls")),
    path("", include("tertulia.networks.joomla.urls")),
    path("", include("tertulia.networks.whatsapp.urls")),
]
