from django.urls import path

from . import idea_views

urlpatterns = [
    path("brands/<int:brand_id>/ideas/", idea_views.idea_board, name="idea_board"),
    path("brands/<int:brand_id>/ideas/<int:idea_id>/", idea_views.idea_edit, name="idea_edit"),
    path("brands/<int:brand_id>/ideas/<int:idea_id>/move/", idea_views.idea_move, name="idea_move"),
    path("brands/<int:brand_id>/ideas/<int:idea_id>/delete/", idea_views.idea_delete, name="idea_delete"),
    path("brands/<int:brand_id>/ideas/feeds/", idea_views.feed_add, name="feed_add"),
    path("brands/<int:brand_id>/ideas/feeds/<int:feed_id>/fetch/", idea_views.feed_fetch, name="feed_fetch"),
    path("brands/<int:brand_id>/ideas/feeds/<int:feed_id>/delete/", idea_views.feed_delete, name="feed_delete"),
    path("brands/<int:brand_id>/dictionary/", idea_views.brand_dictionary, name="brand_dictionary"),
    path("brands/<int:brand_id>/dictionary/<int:word_id>/delete/", idea_views.brand_word_delete,
         name="brand_word_delete"),
]
