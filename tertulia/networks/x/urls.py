from django.urls import path

from . import views

urlpatterns: list = [
    path("brands/<int:brand_id>/accounts/connect/x/", views.x_connect_start, name="x_connect"),
    path("networks/x/callback/", views.x_callback, name="x_callback"),
]
