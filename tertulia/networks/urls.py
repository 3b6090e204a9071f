from django.urls import path

from . import views

urlpatterns = [
    path("brands/<int:brand_id>/accounts/connect/mastodon/", views.mastodon_connect_start, name="mastodon_connect"),
    path("brands/<int:brand_id>/accounts/<int:account_id>/refresh-limits/", views.account_refresh_limits,
         name="account_refresh_limits"),
    path("networks/mastodon/callback/", views.mastodon_callback, name="mastodon_callback"),
]
