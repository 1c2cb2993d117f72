from django.urls import path

from assets import views

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
]
