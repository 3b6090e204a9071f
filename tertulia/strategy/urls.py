from django.urls import path

from . import views, views_cadence

_o = "brands/<int:brand_id>/strategy/objectives/<int:objective_id>/"

urlpatterns = [
    path("brands/<int:brand_id>/strategy/", views.objective_list, name="strategy_objectives"),
    path("brands/<int:brand_id>/strategy/objectives/new/", views.objective_edit, name="strategy_objective_new"),
    path(_o, views.objective_edit, name="strategy_objective_edit"),
    path(_o + "delete/", views.objective_delete, name="strategy_objective_delete"),
    path(_o + "kpis/new/", views.kpi_edit, name="strategy_kpi_new"),
    path(_o + "kpis/<int:kpi_id>/", views.kpi_edit, name="strategy_kpi_edit"),
    path(_o + "kpis/<int:kpi_id>/delete/", views.kpi_delete, name="strategy_kpi_delete"),
    path("brands/<int:brand_id>/strategy/kpis/", views.kpi_formulas, name="strategy_kpi_formulas"),
    path("brands/<int:brand_id>/strategy/pillars/", views.pillar_list, name="strategy_pillars"),
    path("brands/<int:brand_id>/strategy/pillars/new/", views.pillar_edit, name="strategy_pillar_new"),
    path("brands/<int:brand_id>/strategy/pillars/<int:pillar_id>/", views.pillar_edit, name="strategy_pillar_edit"),
    path("brands/<int:brand_id>/strategy/pillars/<int:pillar_id>/delete/", views.pillar_delete,
         name="strategy_pillar_delete"),
    path("brands/<int:brand_id>/strategy/cadence/", views_cadence.cadence_page, name="cadence"),
    path("brands/<int:brand_id>/strategy/cadence/plan/", views_cadence.cadence_plan, name="cadence_plan"),
    path("brands/<int:brand_id>/strategy/cadence/tasks/<int:cadence_task_id>/", views_cadence.cadence_mark,
         name="cadence_mark"),
]
