from django.urls import path

from . import media_views, public_media, views

urlpatterns = [
    path("l/<str:slug>", views.short_link, name="short_link"),
    path("m/<str:media_token>", public_media.public_media, name="public_media"),
    path("brands/<int:brand_id>/media/", media_views.media_list, name="media_list"),
    path("brands/<int:brand_id>/media/<int:asset_id>/", media_views.media_detail, name="media_detail"),
    path("brands/<int:brand_id>/media/<int:asset_id>/crop/", media_views.media_crop, name="media_crop"),
    path("brands/<int:brand_id>/media/<int:asset_id>/delete/", media_views.media_delete, name="media_delete"),
    path("brands/<int:brand_id>/media/<int:asset_id>/file/", media_views.media_file, name="media_file"),
    path("brands/<int:brand_id>/media/<int:asset_id>/preview/", media_views.media_preview, name="media_preview"),
]
