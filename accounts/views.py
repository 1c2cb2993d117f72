from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth import views as auth_views
from django.contrib.auth.decorators import login_required
from django.contrib.auth.forms import SetPasswordForm
from django.contrib.auth.models import Group
from django.core.paginator import Paginator
from django.db.models import Count, Q
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import policy, services
from accounts.forms import (
    ApiTokenForm,
    EmailAuthenticationForm,
    GroupForm,
    PreferencesForm,
    ProfileForm,
    UserAddFormSet,
    UserEditForm,
    UserFilterForm,
)
from accounts.models import ApiToken, User, UserStatus
from assets.services import ServiceError
from dam.preferences import preferences_get, preferences_update
from dam.services import audit_record

USERS_PER_PAGE = 25


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


def manager_required(view):
    """Users and groups pages exist only for admins; everyone else gets 404."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not policy.can_manage_users(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapped


def _base_url(request) -> str:
    return request.build_absolute_uri("/")


def _manageable_user_or_404(request, pk) -> User:
    user = get_object_or_404(User, pk=pk)
    if not policy.can_manage_user(request.user, user):
        raise Http404("No such user.")
    return user


# -- users -----------------------------------------------------------------------------
@manager_required
@require_GET
def settings_users(request):
    """Settings → Users: search, filter by role and status, paginated."""
    filters = UserFilterForm(request.GET or None)
    users = User.objects.prefetch_related("groups").order_by("email", "id")
    if filters.is_valid():
        q = filters.cleaned_data["q"].replace("\x00", "").strip()
        if q:
            users = users.filter(
                Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
            )
        if filters.cleaned_data["role"]:
            users = users.filter(role=filters.cleaned_data["role"])
        if filters.cleaned_data["status"]:
            users = users.filter(status=filters.cleaned_data["status"])
    page = Paginator(users, USERS_PER_PAGE).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    prefs = preferences_get()
    context = {
        "filters": filters,
        "page": page,
        "query": query.urlencode(),
        "filtered": any(request.GET.get(k) for k in ("q", "role", "status")),
        "seats_used": services.seats_used(),
        "prefs": prefs,
        "settings_tab": "users",
        "nav_active": "settings",
    }
    if policy.can_change_preferences(request.user):
        context["prefs_form"] = PreferencesForm(
            initial={f: getattr(prefs, f) for f in PreferencesForm.base_fields}
        )
    return render(request, "accounts/settings.html", context)


@manager_required
@require_http_methods(["GET", "POST"])
def users_add(request):
    formset = UserAddFormSet(request.POST or None, form_kwargs={"actor": request.user})
    if request.method == "POST" and formset.is_valid():
        new_users = [
            services.NewUser(
                email=f.cleaned_data["email"],
                first_name=f.cleaned_data["first_name"],
                last_name=f.cleaned_data["last_name"],
                role=f.cleaned_data["role"],
                groups=list(f.cleaned_data["groups"]),
                permissions=f.permissions(),
            )
            for f in formset.filled_forms()
        ]
        try:
            created = services.users_invite(
                actor=request.user, new_users=new_users, base_url=_base_url(request)
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            emails = ", ".join(u.email for u in created)
            messages.success(
                request,
                f"Invited {len(created)} user{'s' if len(created) != 1 else ''}: {emails}. "
                "Each will get an email with a link to set a password.",
            )
            return redirect("settings")
    return render(
        request,
        "accounts/users_add.html",
        {
            "formset": formset,
            "settings_tab": "users",
            "nav_active": "settings",
            "seats_used": services.seats_used(),
            "seat_limit": preferences_get().seat_limit,
        },
    )


@manager_required
@require_http_methods(["GET", "POST"])
def user_edit(request, pk):
    user = _manageable_user_or_404(request, pk)
    initial = {
        "first_name": user.first_name,
        "last_name": user.last_name,
        "role": user.role,
        "groups": list(user.groups.all()),
        "create_collections": user.can_create_collections,
        "share_collections": user.can_share_collections,
        "moderate_assets": user.can_moderate_assets,
        "delivery_url_options": user.can_use_delivery_urls,
    }
    form = UserEditForm(request.POST or None, initial=initial, actor=request.user)
    if user.role not in dict(form.fields["role"].choices):
        form.fields["role"].choices = [(user.role, user.get_role_display())]
    if request.method == "POST" and form.is_valid():
        try:
            services.user_update(
                actor=request.user,
                user=user,
                first_name=form.cleaned_data["first_name"],
                last_name=form.cleaned_data["last_name"],
                role=form.cleaned_data["role"],
                groups=list(form.cleaned_data["groups"]),
                permissions=form.permissions(),
            )
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, f"Saved {user.email}.")
            return redirect("accounts:user_edit", pk=user.pk)
    return render(
        request,
        "accounts/user_edit.html",
        {
            "subject": user,
            "form": form,
            "is_self": user.pk == request.user.pk,
            "settings_tab": "users",
            "nav_active": "settings",
        },
    )


_USER_ACTIONS = {
    "resend-invite": (
        lambda actor, user, request: services.user_resend_invite(
            actor=actor, user=user, base_url=_base_url(request)
        ),
        "The invitation was sent to {email} again.",
    ),
    "reset-password": (
        lambda actor, user, request: services.user_reset_password(
            actor=actor, user=user, base_url=_base_url(request)
        ),
        "{email} was signed out everywhere and emailed a link to set a new password.",
    ),
    "force-logout": (
        lambda actor, user, request: services.user_force_logout(actor=actor, user=user),
        "{email} was signed out of every session.",
    ),
    "delete": (
        lambda actor, user, request: services.user_delete(actor=actor, user=user),
        "{email} was deleted and is now inactive. Their work stays attributed to them.",
    ),
}


@manager_required
@require_POST
def user_action(request, pk, action):
    if action not in _USER_ACTIONS:
        raise Http404("No such action.")
    user = _manageable_user_or_404(request, pk)
    run, done = _USER_ACTIONS[action]
    try:
        run(request.user, user, request)
    except ServiceError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, done.format(email=user.email))
    if action == "delete":
        return redirect("settings")
    return redirect("accounts:user_edit", pk=user.pk)


@require_http_methods(["GET", "POST"])
def set_password(request, uidb64, token):
    """The link from an invitation or reset email: choose a password, then you are in."""
    user = services.user_from_set_password_link(uidb64, token)
    if user is None:
        return render(request, "accounts/set_password_invalid.html", status=400)
    form = SetPasswordForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            user = services.user_set_password(
                user=user, password=form.cleaned_data["new_password1"]
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            login(request, user, backend="accounts.backends.EmailBackend")
            messages.success(request, "Your password is set. Welcome to Atrium DAM.")
            return redirect("home")
    return render(
        request,
        "accounts/set_password.html",
        {"form": form, "subject": user, "invited": user.status == UserStatus.INVITED},
    )


# -- preferences -----------------------------------------------------------------------
@login_required
@require_POST
def preferences(request):
    if not policy.can_change_preferences(request.user):
        raise Http404("No such page.")
    form = PreferencesForm(request.POST)
    if form.is_valid():
        try:
            preferences_update(actor=request.user, changes=form.cleaned_data)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            messages.success(request, "Preferences saved.")
    else:
        errors = "; ".join(f"{form[f].label}: {' '.join(e)}" for f, e in form.errors.items())
        messages.error(request, f"Preferences were not saved. {errors}")
    return redirect("settings")


# -- groups ----------------------------------------------------------------------------
@manager_required
@require_http_methods(["GET", "POST"])
def groups(request):
    form = GroupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            group = services.group_create(actor=request.user, name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Group {group.name} created.")
            return redirect("accounts:group_detail", pk=group.pk)
    groups = Group.objects.annotate(
        member_count=Count("user", filter=~Q(user__status=UserStatus.INACTIVE))
    ).order_by("name")
    return render(
        request,
        "accounts/groups.html",
        {"groups": groups, "form": form, "settings_tab": "groups", "nav_active": "settings"},
    )


@manager_required
@require_http_methods(["GET", "POST"])
def group_detail(request, pk):
    group = get_object_or_404(Group, pk=pk)
    form = GroupForm(request.POST or None, initial={"name": group.name})
    if request.method == "POST" and form.is_valid():
        try:
            services.group_update(actor=request.user, group=group, name=form.cleaned_data["name"])
        except ServiceError as exc:
            form.add_error("name", exc.message)
        else:
            messages.success(request, f"Group renamed to {group.name}.")
            return redirect("accounts:group_detail", pk=group.pk)
    q = request.GET.get("q", "").replace("\x00", "").strip()[:200]
    members = group.user_set.exclude(status=UserStatus.INACTIVE).order_by("email")
    member_count = members.count()
    if q:
        members = members.filter(
            Q(email__icontains=q) | Q(first_name__icontains=q) | Q(last_name__icontains=q)
        )
    candidates = (
        User.objects.exclude(status=UserStatus.INACTIVE).exclude(groups=group).order_by("email")
    )
    return render(
        request,
        "accounts/group_detail.html",
        {
            "group": group,
            "form": form,
            "members": members,
            "member_count": member_count,
            "q": q,
            "candidates": candidates,
            "settings_tab": "groups",
            "nav_active": "settings",
        },
    )


@manager_required
@require_POST
def group_members_add(request, pk):
    group = get_object_or_404(Group, pk=pk)
    ids = [int(v) for v in request.POST.getlist("user") if policy.is_valid_id(v)]
    users = list(User.objects.filter(pk__in=ids).exclude(status=UserStatus.INACTIVE))
    if not users:
        messages.error(request, "Choose a user to add.")
    else:
        try:
            services.group_add_members(actor=request.user, group=group, users=users)
        except ServiceError as exc:
            messages.error(request, exc.message)
        else:
            names = ", ".join(u.email for u in users)
            messages.success(request, f"Added {names} to {group.name}.")
    return redirect("accounts:group_detail", pk=group.pk)


@manager_required
@require_POST
def group_member_remove(request, pk, user_pk):
    group = get_object_or_404(Group, pk=pk)
    user = get_object_or_404(group.user_set, pk=user_pk)
    services.group_remove_members(actor=request.user, group=group, users=[user])
    messages.success(request, f"Removed {user.email} from {group.name}.")
    return redirect("accounts:group_detail", pk=group.pk)


@manager_required
@require_POST
def group_delete(request, pk):
    group = get_object_or_404(Group, pk=pk)
    name = group.name
    services.group_delete(actor=request.user, group=group)
    messages.success(request, f"Group {name} deleted.")
    return redirect("accounts:groups")


# -- the user's own profile -------------------------------------------------------------
@login_required
@require_http_methods(["GET", "POST"])
def profile(request):
    user = request.user
    form = ProfileForm(
        request.POST if request.POST.get("form") == "profile" else None,
        initial={
            "first_name": user.first_name,
            "last_name": user.last_name,
            "notify_on_share": user.notify_on_share,
        },
    )
    token_form = ApiTokenForm(request.POST if request.POST.get("form") == "token" else None)
    new_token = None
    if request.method == "POST":
        if form.is_bound and form.is_valid():
            services.user_update_profile(user=user, **form.cleaned_data)
            messages.success(request, "Profile saved.")
            return redirect("accounts:profile")
        if token_form.is_bound and token_form.is_valid():
            token, raw = services.api_token_create(user=user, name=token_form.cleaned_data["name"])
            new_token = {"token": token, "raw": raw}
            token_form = ApiTokenForm()
    tokens = ApiToken.objects.filter(user=user, revoked_at__isnull=True)
    return render(
        request,
        "accounts/profile.html",
        {"form": form, "token_form": token_form, "tokens": tokens, "new_token": new_token},
    )


@login_required
@require_POST
def api_token_revoke(request, pk):
    token = get_object_or_404(ApiToken, pk=pk, user=request.user, revoked_at__isnull=True)
    services.api_token_revoke(user=request.user, token=token)
    messages.success(request, f"Token {token.name} revoked; it no longer works.")
    return redirect(reverse("accounts:profile"))


def locked_out(request, credentials, *args, **kwargs):
    """django-axes calls this when an email+address pair is locked: a page, not a bare 403."""
    from django.conf import settings

    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    context = {"lockout_minutes": minutes, "failure_limit": settings.AXES_FAILURE_LIMIT}
    return render(request, "accounts/locked.html", context, status=429)
