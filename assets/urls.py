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
    path("assets/<int:asset_id>/", views.asset_detail, name="detail"),
    path("assets/<int:asset_id>/tile/", views.asset_tile, name="tile"),
    path("assets/<int:asset_id>/download/", views.download, name="download"),
    path("assets/<int:asset_id>/r/<slug:spec>/", views.rendition, name="rendition"),
]
