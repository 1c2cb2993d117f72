from django.contrib import messages
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import Group
from django.db.models import Count
from django.http import Http404
from django.shortcuts import render
from django.urls import reverse_lazy
from django.views.decorators.http import require_GET

from accounts import policy
from accounts.forms import EmailAuthenticationForm
from accounts.models import User
from dam.services import audit_record


class LoginView(auth_views.LoginView):
    template_name = "accounts/login.html"
    authentication_form = EmailAuthenticationForm
    redirect_authenticated_user = True


class LogoutView(auth_views.LogoutView):
    pass


class PasswordChangeView(auth_views.PasswordChangeView):
    """Django keeps this session and ends the user's other sessions (session hash)."""

    template_name = "accounts/password_change.html"
    success_url = reverse_lazy("accounts:password_change")

    def form_valid(self, form):
        response = super().form_valid(form)
        audit_record(actor=self.request.user, verb="user.password_change", obj=self.request.user)
        messages.success(self.request, "Your password was changed. Other sessions were signed out.")
        return response


@login_required
@require_GET
def settings_users(request):
    """Users and groups (admins); editing arrives with the access-control pages."""
    if not policy.can_manage_users(request.user):
        raise Http404("No such page.")
    users = User.objects.prefetch_related("groups").order_by("email")
    groups = Group.objects.annotate(member_count=Count("user")).order_by("name")
    return render(request, "accounts/settings.html", {"users": users, "groups": groups})
