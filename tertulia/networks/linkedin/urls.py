from django.urls import path

from . import views

urlpatterns = [
    path("brands/<int:brand_id>/accounts/connect/linkedin/", views.linkedin_connect_start, name="linkedin_connect"),
    path("brands/<int:brand_id>/accounts/connect/linkedin/choose/", views.linkedin_choose, name="linkedin_choose"),
    path("networks/linkedin/callback/", views.linkedin_callback, name="linkedin_callback"),
]
