from django.urls import path

from . import review_views

urlpatterns = [
    path("brands/<int:brand_id>/posts/<int:post_id>/", review_views.post_detail, name="post_detail"),
    path("brands/<int:brand_id>/settings/approvals/", review_views.approval_settings, name="approval_settings"),
    path("review/<str:review_token>/", review_views.review_link, name="review_link"),
]
