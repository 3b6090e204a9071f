"""Inbox settings pages: saved replies, rules, labels and service targets, under a brand's Settings."""

from django.urls import path

from . import settings_views as views

_s = "brands/<int:brand_id>/settings/inbox/"

urlpatterns = [
    path(_s + "replies/", views.saved_reply_list, name="inbox_saved_replies"),
    path(_s + "replies/new/", views.saved_reply_edit, name="inbox_saved_reply_new"),
    path(_s + "replies/preview/", views.saved_reply_preview, name="inbox_saved_reply_preview"),
    path(_s + "replies/<int:saved_reply_id>/", views.saved_reply_edit, name="inbox_saved_reply_edit"),
    path(_s + "replies/<int:saved_reply_id>/delete/", views.saved_reply_delete, name="inbox_saved_reply_delete"),
    path(_s + "rules/", views.rule_list, name="inbox_rules"),
    path(_s + "rules/new/", views.rule_edit, name="inbox_rule_new"),
    path(_s + "rules/try/", views.rule_try, name="inbox_rule_try"),
    path(_s + "rules/<int:rule_id>/", views.rule_edit, name="inbox_rule_edit"),
    path(_s + "rules/<int:rule_id>/toggle/", views.rule_toggle, name="inbox_rule_toggle"),
    path(_s + "rules/<int:rule_id>/move/", views.rule_move, name="inbox_rule_move"),
    path(_s + "rules/<int:rule_id>/delete/", views.rule_delete, name="inbox_rule_delete"),
    path(_s + "labels/", views.label_list, name="inbox_labels"),
    path(_s + "labels/<int:label_id>/", views.label_edit, name="inbox_label_edit"),
    path(_s + "labels/<int:label_id>/delete/", views.label_delete, name="inbox_label_delete"),
    path(_s + "targets/", views.inbox_settings, name="inbox_settings"),
]
