from django.urls import include, path

from accounts import views as account_views
from assets import delivery_views, search_views
from dam import views
from dam.api import api
from moderation import views as moderation_views

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.health, name="health"),
    path("favicon.ico", views.favicon),
    path("accounts/", include("accounts.urls")),
    path("", include("assets.urls")),
    path("", include("metadata.urls")),
    path("", include("assets.collection_urls")),
    path("", include("assets.automation_urls")),
    path("moderation/", moderation_views.queue, name="moderation"),
    path("moderation/decide/", moderation_views.decide, name="moderation_decide"),
    path("notifications/", views.notifications, name="notifications"),
    path("search/", search_views.search_page, name="search"),
    path("search/suggest/", search_views.search_suggest, name="search_suggest"),
    path("search/save/", search_views.search_save, name="search_save"),
    path(
        "search/saved/<int:saved_id>/delete/",
        search_views.search_saved_delete,
        name="search_saved_delete",
    ),
    path("reports/", views.reports, name="reports"),
    path("", include("dam.activity_urls")),
    path("settings/", account_views.settings_users, name="settings"),
    path("api/v1/", api.urls),
    path("d/<path:rest>", delivery_views.deliver, name="deliver"),
]

handler400 = "dam.views.error_400"
handler403 = "dam.views.error_403"
handler404 = "dam.views.error_404"
handler500 = "dam.views.error_500"
