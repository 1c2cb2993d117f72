from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    path("login/", views.LoginView.as_view(), name="login"),
    path("logout/", views.LogoutView.as_view(), name="logout"),
    path("password/", views.PasswordChangeView.as_view(), name="password_change"),
    path("set-password/<str:uidb64>/<str:token>/", views.set_password, name="set_password"),
    path("profile/", views.profile, name="profile"),
    path("profile/tokens/<int:pk>/revoke/", views.api_token_revoke, name="api_token_revoke"),
    path("users/add/", views.users_add, name="users_add"),
    path("users/<int:pk>/", views.user_edit, name="user_edit"),
    path("users/<int:pk>/<slug:action>/", views.user_action, name="user_action"),
    path("groups/", views.groups, name="groups"),
    path("groups/<int:pk>/", views.group_detail, name="group_detail"),
    path("groups/<int:pk>/members/", views.group_members_add, name="group_members_add"),
    path(
        "groups/<int:pk>/members/<int:user_pk>/remove/",
        views.group_member_remove,
        name="group_member_remove",
    ),
    path("groups/<int:pk>/delete/", views.group_delete, name="group_delete"),
    path("preferences/", views.preferences, name="preferences"),
]
