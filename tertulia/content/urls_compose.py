from django.urls import path

from . import composer_views

urlpatterns = [
    path("brands/<int:brand_id>/compose/", composer_views.compose, name="section_compose"),
    path("brands/<int:brand_id>/compose/validate/", composer_views.compose_validate, name="compose_validate"),
    path("brands/<int:brand_id>/compose/utm/", composer_views.compose_utm, name="compose_utm"),
    path("brands/<int:brand_id>/compose/utm-presets/", composer_views.utm_presets, name="utm_presets"),
    path("brands/<int:brand_id>/posts/<int:post_id>/edit/", composer_views.post_edit, name="post_edit"),
]
