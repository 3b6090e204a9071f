from django.urls import path

from . import views

_p = "brands/<int:brand_id>/publishing/"
_t = _p + "targets/<int:target_id>/"

urlpatterns = [
    path(_p, views.queue, name="publishing_queue"),
    path(_p + "pause/", views.pause_brand, name="publishing_pause"),
    path(_p + "accounts/<int:account_id>/pause/", views.pause_account, name="publishing_account_pause"),
    path(_p + "posts/<int:post_id>/queue/", views.add_to_queue, name="post_add_to_queue"),
    path(_p + "slots/", views.slot_list, name="queue_slots"),
    path(_p + "slots/<int:slot_id>/delete/", views.slot_delete, name="queue_slot_delete"),
    path(_t, views.target_log, name="target_log"),
    path(_t + "retry/", views.target_retry, name="target_retry"),
    path(_t + "cancel/", views.target_cancel, name="target_cancel"),
    path(_t + "delete/", views.target_delete, name="target_delete"),
    path(_t + "retry-comment/", views.target_retry_comment, name="target_retry_comment"),
    path(_t + "update-on-network/", views.target_update_on_network, name="target_update_on_network"),
    path(_t + "unpublish/", views.target_unpublish, name="target_unpublish"),
]
