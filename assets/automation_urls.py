"""Settings → Automation (admin roles only)."""

from django.urls import path

from assets import automation_views as views

app_name = "automation"

urlpatterns = [
    path("settings/automation/", views.rules_page, name="rules"),
    path("settings/automation/new/", views.rule_create, name="rule_create"),
    path("settings/automation/<int:rule_id>/", views.rule_detail, name="rule"),
    path("settings/automation/<int:rule_id>/edit/", views.rule_edit, name="rule_edit"),
    path("settings/automation/<int:rule_id>/pause/", views.rule_pause, name="rule_pause"),
    path("settings/automation/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/automation/<int:rule_id>/run/", views.rule_run, name="rule_run"),
    path(
        "settings/automation/<int:rule_id>/runs/<int:run_id>/",
        views.run_detail,
        name="run",
    ),
]
