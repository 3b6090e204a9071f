from django.urls import path

from . import views

_b = "brands/<int:brand_id>/reports/"
_r = _b + "<int:report_id>/"

urlpatterns = [
    # The shell's "Reports" section is the archive.
    path(_b, views.report_list, name="section_reports"),
    path(_b + "generate/", views.report_generate, name="report_generate"),
    path(_r, views.report_detail, name="report_detail"),
    path(_r + "pdf/", views.report_pdf, name="report_pdf"),
    path(_r + "share/", views.report_share, name="report_share"),
    path(_r + "share/revoke/", views.report_share_revoke, name="report_share_revoke"),
    path(_r + "delete/", views.report_delete, name="report_delete"),
    path(_b + "schedules/", views.schedule_list, name="report_schedules"),
    path(_b + "schedules/new/", views.schedule_edit, name="report_schedule_new"),
    path(_b + "schedules/<int:report_schedule_id>/", views.schedule_edit, name="report_schedule_edit"),
    path(_b + "schedules/<int:report_schedule_id>/delete/", views.schedule_delete, name="report_schedule_delete"),
    # A report's public read-only link (the token is the credential).
    path("r/<str:share_token>/", views.report_public, name="report_public"),
]
