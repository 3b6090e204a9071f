from django.urls import path

from . import views

urlpatterns: list = [
    path("brands/<int:brand_id>/accounts/connect/threads/", views.threads_connect_start, name="threads_connect"),
    path("networks/threads/callback/", views.threads_callback, name="threads_callback"),
]
