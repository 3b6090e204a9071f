from django.urls import path

from . import views
from .charts import CHART_IDS

_b = "brands/<int:brand_id>/analytics/"

urlpatterns = [
    path(_b, views.dashboard, name="section_analytics"),
    path(_b + "best-time/", views.best_time_page, name="analytics_best_time"),
    path(_b + "best-time/<int:account_id>/", views.best_time_page, name="analytics_best_time_account"),
    path(_b + "best-time/<int:account_id>/csv/", views.best_time_csv, name="analytics_best_time_csv"),
    path("analytics/", views.overview, name="analytics_overview"),
]

# One URL per chart (its SVG, loaded into the page, and its CSV): the chart ids are fixed
# names, not objects, so they are part of the route rather than a parameter.
for _id in CHART_IDS:
    urlpatterns += [
        path(_b + f"charts/{_id}/", views.chart_svg, {"chart_id": _id}, name=f"analytics_chart_{_id}"),
        path(_b + f"charts/{_id}/csv/", views.chart_csv, {"chart_id": _id}, name=f"analytics_chart_{_id}_csv"),
        path(f"analytics/charts/{_id}/", views.overview_chart_svg, {"chart_id": _id},
             name=f"analytics_overview_chart_{_id}"),
        path(f"analytics/charts/{_id}/csv/", views.overview_chart_csv, {"chart_id": _id},
             name=f"analytics_overview_chart_{_id}_csv"),
    ]
