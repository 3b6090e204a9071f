from django.urls import path

from . import views

urlpatterns = [
    path("brands/<int:brand_id>/accounts/connect/meta/", views.meta_connect, name="meta_connect"),
    path("brands/<int:brand_id>/accounts/connect/meta/choose/", views.meta_choose, name="meta_choose"),
    path("networks/meta/callback/", views.meta_callback, name="meta_callback"),
    path("networks/meta/webhook/", views.meta_webhook, name="meta_webhook"),
]
