"""The activity report, its CSV export, and an asset's History section (htmx)."""

from django.urls import path

from dam import activity_views as views

urlpatterns = [
    path("activity/", views.activity_page, name="activity"),
    path("activity/export.csv", views.activity_csv, name="activity_csv"),
    path("activity/users/", views.activity_users, name="activity_users"),
    path("assets/<int:asset_id>/history/", views.asset_history, name="asset_history"),
]
