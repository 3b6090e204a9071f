from django.contrib.auth import views as auth_views
from django.urls import path

from . import views

urlpatterns = [
    path("", views.home, name="home"),
    path("login/", views.SignInView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("language/", views.set_language, name="set_language"),
    path("me/", views.preferences, name="preferences"),
    path("me/tokens/", views.token_list, name="token_list"),
    path("me/tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("workspaces/new/", views.org_create, name="org_create"),
    path("brands/", views.brand_list, name="brand_list"),
    path("brands/new/", views.brand_create, name="brand_create"),
    path("brands/<int:brand_id>/settings/", views.brand_settings, name="brand_settings"),
    path("brands/<int:brand_id>/delete/", views.brand_delete, name="brand_delete"),
    path("brands/<int:brand_id>/knowledge/", views.knowledge_list, name="knowledge_list"),
    path("brands/<int:brand_id>/knowledge/new/", views.knowledge_edit, name="knowledge_new"),
    path("brands/<int:brand_id>/knowledge/<int:entry_id>/", views.knowledge_edit, name="knowledge_edit"),
    path("brands/<int:brand_id>/knowledge/<int:entry_id>/delete/", views.knowledge_delete, name="knowledge_delete"),
    path("brands/<int:brand_id>/accounts/", views.account_list, name="account_list"),
    path("brands/<int:brand_id>/accounts/new/", views.account_edit, name="account_new"),
    path("brands/<int:brand_id>/accounts/<int:account_id>/", views.account_edit, name="account_edit"),
    path("brands/<int:brand_id>/accounts/<int:account_id>/delete/", views.account_delete, name="account_delete"),
    path("brands/<int:brand_id>/members/", views.member_list, name="member_list"),
    path("brands/<int:brand_id>/members/<int:membership_id>/role/", views.member_role, name="member_role"),
    path("brands/<int:brand_id>/members/<int:membership_id>/remove/", views.member_remove, name="member_remove"),
    path("brands/<int:brand_id>/invitations/<int:invitation_id>/revoke/", views.invitation_revoke, name="invitation_revoke"),
    path("brands/<int:brand_id>/audit/", views.audit_log, name="audit_log"),
    path("invitations/<str:token>/", views.invitation_accept, name="invitation_accept"),
]

# In-app notifications (core/notification_views.py).
from . import notification_views  # noqa: E402

urlpatterns += [
    path("notifications/", notification_views.notification_list, name="notifications"),
    path("notifications/read-all/", notification_views.notification_read_all, name="notifications_read_all"),
    path("notifications/<int:notification_id>/read/", notification_views.notification_read,
         name="notification_read"),
]

# Deleted brands (restore during the grace period) and brand exports (core/data_views.py).
from . import data_views  # noqa: E402

urlpatterns += [
    path("brands/deleted/", data_views.deleted_brands, name="deleted_brands"),
    path("brands/deleted/<int:brand_id>/restore/", data_views.brand_restore, name="brand_restore"),
    path("brands/<int:brand_id>/exports/", data_views.brand_exports, name="brand_exports"),
    path("brands/<int:brand_id>/exports/new/", data_views.brand_export_new, name="brand_export_new"),
    path("brands/<int:brand_id>/exports/<int:export_id>/download/", data_views.brand_export_download,
         name="brand_export_download"),
]
