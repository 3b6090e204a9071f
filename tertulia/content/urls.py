from django.urls import path

from . import views

urlpatterns = [
    path("l/<str:slug>", views.short_link, name="short_link"),
]
