from django.urls import path

from metadata import views

app_name = "metadata"

urlpatterns = [
    path("metadata/form/", views.form_render, name="form"),
    path("metadata/options/", views.options_search, name="options"),
    path("settings/metadata/", views.fields_page, name="fields"),
    path("settings/metadata/new/", views.field_create, name="field_create"),
    path("settings/metadata/reorder/", views.fields_reorder, name="fields_reorder"),
    path("settings/metadata/fields/<str:external_id>/", views.field_detail, name="field"),
    path(
        "settings/metadata/fields/<str:external_id>/delete/",
        views.field_delete,
        name="field_delete",
    ),
    path("settings/metadata/fields/<str:external_id>/move/", views.field_move, name="field_move"),
    path("settings/metadata/fields/<str:external_id>/values/", views.value_add, name="value_add"),
    path(
        "settings/metadata/fields/<str:external_id>/values/<str:value_id>/",
        views.value_edit,
        name="value_edit",
    ),
    path(
        "settings/metadata/fields/<str:external_id>/rules/new/",
        views.rule_create,
        name="rule_create",
    ),
    path(
        "settings/metadata/fields/<str:external_id>/rules/reorder/",
        views.rules_reorder,
        name="rules_reorder",
    ),
    path("settings/metadata/rules/<int:rule_id>/", views.rule_edit, name="rule"),
    path("settings/metadata/rules/<int:rule_id>/delete/", views.rule_delete, name="rule_delete"),
    path("settings/metadata/rules/<int:rule_id>/move/", views.rule_move, name="rule_move"),
]
