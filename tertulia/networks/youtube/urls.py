from django.urls import path

from . import views

urlpatterns: list = [
    path("brands/<int:brand_id>/accounts/connect/youtube/", views.youtube_connect_start, name="youtube_connect"),
    path("networks/youtube/callback/", views.youtube_callback, name="youtube_callback"),
    path("brands/<int:brand_id>/posts/<int:post_id>/youtube/", views.youtube_video_settings,
         name="youtube_video_settings"),
]
