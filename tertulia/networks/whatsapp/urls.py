from django.urls import path

from . import views

urlpatterns = [
    path("brands/<int:brand_id>/accounts/connect/whatsapp/", views.whatsapp_connect, name="whatsapp_connect"),
    path("brands/<int:brand_id>/accounts/<int:account_id>/whatsapp/templates/sync/", views.whatsapp_templates_sync,
         name="whatsapp_templates_sync"),
    path("brands/<int:brand_id>/inbox/messages/<int:interaction_id>/whatsapp-media/", views.whatsapp_media,
         name="whatsapp_media"),
    path("brands/<int:brand_id>/inbox/<int:conversation_id>/whatsapp-template/", views.whatsapp_send_template,
         name="whatsapp_send_template"),
    path("networks/whatsapp/webhook/", views.whatsapp_webhook, name="whatsapp_webhook"),
]
