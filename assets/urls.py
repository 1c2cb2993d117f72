from django.urls import path

from assets import delivery_pages, views

app_name = "assets"

urlpatterns = [
    path("library/", views.library, name="library"),
    path("library/folders/new/", views.folder_create, name="folder_create_top"),
    path("library/folders/<int:folder_id>/", views.library, name="folder"),
    path("library/folders/<int:folder_id>/grid/", views.library_grid, name="grid"),
    path(
        "library/folders/<int:folder_id>/new/",
        views.folder_create,
        name="folder_create",
    ),
    path("library/folders/<int:folder_id>/rename/", views.folder_rename, name="folder_rename"),
    path("library/folders/<int:folder_id>/move/", views.folder_move, name="folder_move"),
    path(
        "library/folders/<int:folder_id>/move/targets/",
        views.folder_move_targets,
        name="folder_move_targets",
    ),
    path("library/folders/<int:folder_id>/delete/", views.folder_delete, name="folder_delete"),
    path("library/folders/<int:folder_id>/shares/", views.folder_shares, name="folder_shares"),
    path(
        "library/folders/<int:folder_id>/shares/remove/",
        views.folder_unshare,
        name="folder_unshare",
    ),
    path("assets/<int:asset_id>/", views.asset_detail, name="detail"),
    path("assets/<int:asset_id>/tile/", views.asset_tile, name="tile"),
    path("assets/<int:asset_id>/download/", views.download, name="download"),
    path("assets/<int:asset_id>/r/<slug:spec>/", views.rendition, name="rendition"),
    # upload presets and versions (issue 4: presets & versions)
    path("settings/upload-presets/", views.presets, name="presets"),
    path("settings/upload-presets/new/", views.preset_create, name="preset_create"),
    path("settings/upload-presets/<slug:name>/edit/", views.preset_edit, name="preset_edit"),
    path("settings/upload-presets/<slug:name>/delete/", views.preset_delete, name="preset_delete"),
    path(
        "assets/<int:asset_id>/versions/<int:number>/r/<slug:spec>/",
        views.version_rendition,
        name="version_rendition",
    ),
    path(
        "assets/<int:asset_id>/versions/<int:number>/download/",
        views.version_download,
        name="version_download",
    ),
    path(
        "assets/<int:asset_id>/versions/<int:number>/restore/",
        views.version_restore,
        name="version_restore",
    ),
    # -- bulk, edits, comments, trash (issue 4: trash & bulk) --
    path("library/folders/<int:folder_id>/bulk/", views.library_bulk, name="bulk"),
    path(
        "library/folders/<int:folder_id>/bulk-metadata/",
        views.bulk_metadata,
        name="bulk_metadata",
    ),
    path(
        "library/folders/<int:folder_id>/upload-metadata/",
        views.upload_metadata,
        name="upload_metadata",
    ),
    path("library/move-targets/", views.asset_move_targets, name="asset_move_targets"),
    path("library/trash/", views.trash, name="trash"),
    path(
        "library/trash/<str:kind>/<int:pk>/restore/",
        views.trash_restore,
        name="trash_restore",
    ),
    path("library/trash/<str:kind>/<int:pk>/purge/", views.trash_purge, name="trash_purge"),
    path("assets/<int:asset_id>/edit/", views.asset_edit, name="edit"),
    path("assets/<int:asset_id>/metadata/", views.asset_metadata, name="metadata"),
    path("assets/<int:asset_id>/comments/", views.asset_comment, name="comment"),
    path("assets/<int:asset_id>/delete/", views.asset_delete, name="delete"),
    # -- access and delivery (issue 9) --
    path("assets/<int:asset_id>/access/", delivery_pages.asset_access, name="access"),
    path(
        "assets/<int:asset_id>/delivery-url/",
        delivery_pages.asset_signed_url,
        name="signed_url",
    ),
    path("settings/delivery/", delivery_pages.delivery_presets, name="delivery_presets"),
    path(
        "settings/delivery/<slug:name>/",
        delivery_pages.delivery_preset_edit,
        name="delivery_preset_edit",
    ),
    path(
        "settings/delivery/<slug:name>/delete/",
        delivery_pages.delivery_preset_delete,
        name="delivery_preset_delete",
    ),
]
