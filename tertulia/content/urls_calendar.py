from django.urls import path

from . import calendar_views as views

urlpatterns = [
    path("calendar/", views.calendar_all, name="calendar_all"),
    path("ical/<str:calendar_token>.ics", views.calendar_ical, name="calendar_ical"),
    path("brands/<int:brand_id>/calendar/", views.calendar_page, name="section_calendar"),
    path("brands/<int:brand_id>/calendar/export.csv", views.calendar_export, name="calendar_export"),
    path("brands/<int:brand_id>/calendar/import/", views.calendar_import, name="calendar_import"),
    path("brands/<int:brand_id>/calendar/posts/<int:post_id>/move/", views.post_move, name="calendar_post_move"),
    path("brands/<int:brand_id>/calendar/feed/", views.calendar_feed_create, name="calendar_feed_create"),
    path("brands/<int:brand_id>/calendar/feed/revoke/", views.calendar_feed_revoke, name="calendar_feed_revoke"),
    path("brands/<int:brand_id>/calendar/plan/", views.week_plan, name="week_plan"),
    path("brands/<int:brand_id>/calendar/plan/themes/<int:theme_id>/", views.week_theme_edit, name="week_theme_edit"),
    path("brands/<int:brand_id>/calendar/plan/themes/<int:theme_id>/delete/", views.week_theme_delete,
         name="week_theme_delete"),
    path("brands/<int:brand_id>/calendar/key-dates/", views.key_date_list, name="key_date_list"),
    path("brands/<int:brand_id>/calendar/key-dates/<int:key_date_id>/", views.key_date_edit, name="key_date_edit"),
    path("brands/<int:brand_id>/calendar/key-dates/<int:key_date_id>/delete/", views.key_date_delete,
         name="key_date_delete"),
]
