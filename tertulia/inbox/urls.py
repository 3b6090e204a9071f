"""Inbox pages."""

from django.urls import path

from . import views

urlpatterns = [
    path("inbox/", views.inbox_all, name="inbox"),
    path("inbox/bulk/", views.inbox_bulk, name="inbox_bulk"),
    # The brand's inbox is the app shell's "inbox" section (core.urls leaves this name to us).
    path("brands/<int:brand_id>/inbox/", views.inbox_brand, name="section_inbox"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/", views.conversation_detail,
         name="inbox_conversation"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/presence/", views.conversation_presence,
         name="inbox_presence"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/assign/", views.conversation_assign,
         name="inbox_assign"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/labels/", views.conversation_labels,
         name="inbox_labels"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/status/", views.conversation_status,
         name="inbox_status"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/reply/", views.conversation_reply,
         name="inbox_reply"),
    path("brands/<int:brand_id>/inbox/messages/<int:interaction_id>/hide/", views.interaction_hide,
         name="inbox_hide"),
    path("brands/<int:brand_id>/inbox/messages/<int:interaction_id>/relabel/", views.interaction_relabel,
         name="inbox_relabel"),
    path("brands/<int:brand_id>/inbox/replies/<int:reply_id>/retry/", views.reply_retry, name="inbox_reply_retry"),
    path("brands/<int:brand_id>/inbox/authors/<int:author_id>/", views.author_detail, name="inbox_author"),
]
