"""Listening pages: mentions (the section's page), queries and sources (see ``views_mentions``)."""

from django.urls import path

from . import views_mentions as views

_b = "brands/<int:brand_id>/listening/"

urlpatterns: list = [
    # The app shell's "listening" section (core.urls leaves this name to us).
    path(_b, views.mention_list, name="section_listening"),
    path(_b + "mentions/<int:mention_id>/to-inbox/", views.mention_to_inbox, name="listening_mention_to_inbox"),
    path(_b + "queries/", views.query_list, name="listening_queries"),
    path(_b + "queries/new/", views.query_edit, name="listening_query_new"),
    path(_b + "queries/check/", views.query_check, name="listening_query_check"),
    path(_b + "queries/<int:listening_query_id>/", views.query_edit, name="listening_query_edit"),
    path(_b + "queries/<int:listening_query_id>/delete/", views.query_delete, name="listening_query_delete"),
    path(_b + "sources/", views.source_list, name="listening_sources"),
    path(_b + "sources/new/", views.source_edit, name="listening_source_new"),
    path(_b + "sources/<int:source_id>/", views.source_edit, name="listening_source_edit"),
    path(_b + "sources/<int:source_id>/delete/", views.source_delete, name="listening_source_delete"),
    path(_b + "sources/<int:source_id>/poll/", views.source_poll, name="listening_source_poll"),
]
