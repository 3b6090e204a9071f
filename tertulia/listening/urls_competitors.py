"""Listening pages: competitors (see ``views_competitors``)."""

from django.urls import path

from . import views_competitors as views

_c = "brands/<int:brand_id>/listening/competitors/"

urlpatterns: list = [
    path(_c, views.competitor_list, name="competitors"),
    path(_c + "add/", views.competitor_add, name="competitor_add"),
    path(_c + "benchmark/", views.competitor_benchmark, name="competitor_benchmark"),
    path(_c + "<int:competitor_id>/", views.competitor_detail, name="competitor_detail"),
    path(_c + "<int:competitor_id>/edit/", views.competitor_edit, name="competitor_edit"),
    path(_c + "<int:competitor_id>/delete/", views.competitor_delete, name="competitor_delete"),
    path(_c + "<int:competitor_id>/read/", views.competitor_read, name="competitor_read"),
    path(_c + "<int:competitor_id>/accounts/add/", views.competitor_account_add, name="competitor_account_add"),
    path(_c + "accounts/<int:competitor_account_id>/delete/", views.competitor_account_delete,
         name="competitor_account_delete"),
    path(_c + "accounts/<int:competitor_account_id>/import/", views.competitor_import, name="competitor_import"),
]
