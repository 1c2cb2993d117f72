from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import Group

from accounts import policy
from accounts.models import Role, UserStatus


class EmailAuthenticationForm(AuthenticationForm):
    username = forms.EmailField(
        label="Email",
        widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"}),
    )
    error_messages = {
        "invalid_login": "That email and password do not match an active account.",
        "inactive": "This account is inactive.",
    }


# -- admin pages ---------------------------------------------------------------------
PERMISSION_LABELS = {
    "create_collections": "Create collections",
    "share_collections": "Share collections",
    "moderate_assets": "Moderate assets",
    "delivery_url_options": "Delivery URL options",
}


def role_choices(actor) -> list[tuple[str, str]]:
    return [(value, label) for value, label in Role.choices if policy.can_assign_role(actor, value)]


class UserFilterForm(forms.Form):
    q = forms.CharField(label="Search", required=False, max_length=200)
    role = forms.ChoiceField(
        label="Role", required=False, choices=[("", "All roles"), *Role.choices]
    )
    status = forms.ChoiceField(
        label="Status", required=False, choices=[("", "All statuses"), *UserStatus.choices]
    )


class _UserFieldsForm(forms.Form):
    """Role, groups and the four media library permissions, shared by add and edit."""

    first_name = forms.CharField(label="First name", required=False, max_length=150)
    last_name = forms.CharField(label="Last name", required=False, max_length=150)
    role = forms.ChoiceField(label="Role", initial=Role.MEDIA_LIBRARY_USER)
    groups = forms.ModelMultipleChoiceField(
        label="Groups",
        queryset=Group.objects.order_by("name"),
        required=False,
        widget=forms.SelectMultiple(attrs={"size": 3}),
    )
    create_collections = forms.BooleanField(label="Create collections", required=False)
    share_collections = forms.BooleanField(label="Share collections", required=False)
    moderate_assets = forms.BooleanField(label="Moderate assets", required=False)
    delivery_url_options = forms.BooleanField(label="Delivery URL options", required=False)

    def __init__(self, *args, actor=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["role"].choices = role_choices(actor)

    def permission_fields(self):
        return [self[name] for name in PERMISSION_LABELS]

    def permissions(self) -> dict[str, bool]:
        return {name: self.cleaned_data.get(name, False) for name in PERMISSION_LABELS}


class UserAddForm(_UserFieldsForm):
    email = forms.EmailField(label="Email", max_length=254)
    field_order = ["email", "first_name", "last_name", "role", "groups"]


class _UserAddFormSet(forms.BaseFormSet):
    def get_form_kwargs(self, index):
        return {**super().get_form_kwargs(index), "actor": self.form_kwargs.get("actor")}

    def filled_forms(self):
        return [f for f in self.forms if f.has_changed() and f.cleaned_data.get("email")]

    def clean(self):
        super().clean()
        if any(self.errors):
            return
        emails = [f.cleaned_data["email"].lower() for f in self.filled_forms()]
        if not emails:
            raise forms.ValidationError("Fill in at least one email address.")
        if len(emails) != len(set(emails)):
            raise forms.ValidationError("The same email address is listed twice.")


UserAddFormSet = forms.formset_factory(
    UserAddForm, formset=_UserAddFormSet, extra=5, max_num=5, absolute_max=5, validate_max=True
)


class UserEditForm(_UserFieldsForm):
    pass


class GroupForm(forms.Form):
    name = forms.CharField(label="Group name", max_length=150)


class ProfileForm(forms.Form):
    first_name = forms.CharField(label="First name", required=False, max_length=150)
    last_name = forms.CharField(label="Last name", required=False, max_length=150)
    notify_on_share = forms.BooleanField(
        label="Email me when a folder is shared with me", required=False
    )


class ApiTokenForm(forms.Form):
    name = forms.CharField(
        label="Token name", max_length=100, help_text="What it is for, e.g. “CI uploads”."
    )


class GigabytesField(forms.DecimalField):
    """Bytes in the model, gigabytes in the form (decimals allowed)."""

    def prepare_value(self, value):
        if isinstance(value, int):
            return f"{value / 1024**3:g}"
        return value

    def clean(self, value):
        gigabytes = super().clean(value)
        return None if gigabytes is None else int(gigabytes * 1024**3)


class PreferencesForm(forms.Form):
    seat_limit = forms.IntegerField(
        label="Seat limit",
        required=False,
        min_value=1,
        help_text=(
            "The most users that may be active, invited or in password reset at once. "
            "Empty: no limit."
        ),
    )
    trash_retention_days = forms.IntegerField(
        label="Keep deleted assets in trash for (days)", min_value=1, max_value=3650
    )
    automatic_backup = forms.BooleanField(
        label="Automatic backup: keep replaced files", required=False
    )
    keep_metadata_on_new_version = forms.BooleanField(
        label="Keep metadata when a new version is uploaded", required=False
    )
    storage_alert_bytes = GigabytesField(
        label="Storage alert (GB)",
        required=False,
        min_value=0.001,
        max_value=10**9,
        decimal_places=3,
        help_text="Email the admins once when storage used passes this. Empty: no alert.",
    )
    block_restricted_downloads = forms.BooleanField(
        label="Block downloads of restricted assets (admins still download them)",
        required=False,
    )
