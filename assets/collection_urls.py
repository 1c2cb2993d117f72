"""Collection pages and the public page of a published collection."""

from django.urls import path

from assets import collection_views as views

urlpatterns = [
    path("collections/", views.collections_page, name="collections"),
    path("collections/new/", views.collection_create, name="collection_create"),
    path("collections/<int:collection_id>/", views.collection_detail, name="collection"),
    path("collections/<int:collection_id>/edit/", views.collection_edit, name="collection_edit"),
    path(
        "collections/<int:collection_id>/delete/",
        views.collection_delete,
        name="collection_delete",
    ),
    path("collections/<int:collection_id>/items/", views.collection_items, name="collection_items"),
    path(
        "collections/<int:collection_id>/reorder/",
        views.collection_reorder,
        name="collection_reorder",
    ),
    path(
        "collections/<int:collection_id>/shares/",
        views.collection_shares,
        name="collection_shares",
    ),
    path(
        "collections/<int:collection_id>/publish/",
        views.collection_publish,
        name="collection_publish",
    ),
    path(
        "assets/<int:asset_id>/add-to-collection/",
        views.asset_add_to_collection,
        name="asset_add_to_collection",
    ),
    path("c/<str:token>/", views.public_collection, name="public_collection"),
    path("c/<str:token>/a/<int:asset_id>/", views.public_asset, name="public_asset"),
    path(
        "c/<str:token>/a/<int:asset_id>/r/<slug:spec>/",
        views.public_rendition,
        name="public_rendition",
    ),
    path(
        "c/<str:token>/a/<int:asset_id>/download/",
        views.public_download,
        name="public_download",
    ),
]
