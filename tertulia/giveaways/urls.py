from django.urls import path

from . import views

_G = "brands/<int:brand_id>/giveaways/<int:giveaway_id>/"

urlpatterns = [
    # The app shell's "Giveaways" section (core.urls leaves ``section_giveaways`` to this app).
    path("brands/<int:brand_id>/giveaways/", views.giveaway_list, name="giveaways"),
    path("brands/<int:brand_id>/giveaways/", views.giveaway_list, name="section_giveaways"),
    path("brands/<int:brand_id>/giveaways/new/", views.giveaway_edit, name="giveaway_new"),
    path(_G, views.giveaway_detail, name="giveaway_detail"),
    path(_G + "edit/", views.giveaway_edit, name="giveaway_edit"),
    path(_G + "delete/", views.giveaway_delete, name="giveaway_delete"),
    path(_G + "commit/", views.giveaway_commit, name="giveaway_commit"),
    path(_G + "close/", views.giveaway_close, name="giveaway_close"),
    path(_G + "fetch/", views.giveaway_fetch, name="giveaway_fetch"),
    path(_G + "draw/", views.giveaway_draw, name="giveaway_draw"),
    path(_G + "announce/", views.giveaway_announce, name="giveaway_announce"),
    path(_G + "entries/<int:giveaway_entry_id>/override/", views.giveaway_entry_override,
         name="giveaway_entry_override"),
    path(_G + "export.csv", views.giveaway_export_csv, name="giveaway_export_csv"),
    path(_G + "export.json", views.giveaway_export_json, name="giveaway_export_json"),
    # Public: the results page and what anyone needs to check the draw.
    path("g/<str:public_id>/", views.giveaway_public, name="giveaway_public"),
    path("g/<str:public_id>/proof.json", views.giveaway_public_proof, name="giveaway_public_proof"),
    path("g/<str:public_id>/entries.csv", views.giveaway_public_entries, name="giveaway_public_entries"),
    path("g/<str:public_id>/verify/", views.giveaway_verify, name="giveaway_verify"),
]
