from django.urls import path

from . import views_data

_d = "brands/<int:brand_id>/analytics/data/"

urlpatterns = [
    path(_d, views_data.traffic_page, name="analytics_data_traffic"),
    path(_d + "traffic.csv", views_data.traffic_csv, name="analytics_data_traffic_csv"),
    path(_d + "conversions/", views_data.conversions_page, name="analytics_data_conversions"),
    path(_d + "campaigns/", views_data.campaigns_page, name="analytics_data_campaigns"),
    path(_d + "campaigns.csv", views_data.campaigns_csv, name="analytics_data_campaigns_csv"),
    path(_d + "campaigns/<int:campaign_id>/", views_data.campaign_money, name="analytics_data_campaign"),
    path(_d + "sync/", views_data.sync_page, name="analytics_data_sync"),
    path(_d + "sync/<int:account_id>/read/", views_data.sync_read_now, name="analytics_data_sync_read"),
]
