from django.urls import path

from . import views

urlpatterns: list = [
    path("brands/<int:brand_id>/accounts/connect/joomla/", views.joomla_connect, name="joomla_connect"),
]
