from django import forms

from accounts import policy


class FolderCreateForm(forms.Form):
    name = forms.CharField(label="Folder name", max_length=255, strip=True)


LEVEL_CHOICES = [
    ("view", "View"),
    ("contribute", "Contribute"),
    ("edit", "Edit"),
    ("manage", "Manage"),
]


class ShareForm(forms.Form):
    principal = forms.CharField(label="User or group")
    level = forms.ChoiceField(label="Access level", choices=LEVEL_CHOICES, initial="view")

    def clean_principal(self):
        value = self.cleaned_data["principal"]
        kind, _, pk = value.partition(":")
        if kind not in ("user", "group") or not (pk.isascii() and pk.isdigit()):
            raise forms.ValidationError("Choose a user or a group.")
        if not policy.is_valid_id(pk):
            raise forms.ValidationError("Choose a user or a group.")
        return kind, int(pk)


# -- upload presets (issue 4: presets & versions) -------------------------------------
class PresetForm(forms.Form):
    name = forms.SlugField(
        label="Name",
        max_length=100,
        help_text="Letters, digits, “-” and “_”; uploaders pick presets by this name.",
    )
    public_id_mode = forms.ChoiceField(
        label="Public ID",
        choices=[("random", "Random"), ("filename", "From the file name")],
        initial="random",
        widget=forms.RadioSelect,
    )
    overwrite = forms.BooleanField(
        label="Overwrite existing assets",
        required=False,
        help_text="An upload with an existing public ID becomes its new version (only for "
        "people with edit access to that asset); otherwise it is refused.",
    )
    folder = forms.CharField(
        label="Folder",
        required=False,
        max_length=2000,
        help_text="A folder path such as /Marketing/Spring, used when the upload names no "
        "folder. Empty: the folder the upload names.",
    )
    tags = forms.CharField(
        label="Tags",
        required=False,
        max_length=5000,
        help_text="Comma-separated; added to every upload.",
    )
    moderation = forms.ChoiceField(
        label="Moderation",
        choices=[("none", "None"), ("manual", "Manual review"), ("auto", "Automatic checks")],
        initial="none",
    )
    auto_checks = forms.MultipleChoiceField(
        label="Automatic checks",
        required=False,
        choices=[
            ("content_safety", "Content safety"),
            ("min_size", "Minimum size"),
            ("blur", "Blur"),
            ("file_size", "File size"),
            ("near_duplicates", "Near-duplicates"),
        ],
        widget=forms.CheckboxSelectMultiple,
    )
    access_mode = forms.ChoiceField(
        label="Access mode",
        choices=[("public", "Public"), ("restricted", "Restricted")],
        initial="public",
    )
    default_for = forms.MultipleChoiceField(
        label="Default preset for",
        required=False,
        choices=[("image", "Images"), ("video", "Videos"), ("raw", "Other files")],
        widget=forms.CheckboxSelectMultiple,
    )

    THRESHOLD_LABELS = {
        "approve_below": "Approve below",
        "reject_at": "Reject at or above",
        "reject_below": "Reject below",
        "approve_at": "Approve from",
        "min_bytes": "Smallest file (bytes)",
        "max_bytes": "Largest file (bytes)",
        "reject_within": "Reject within (bits)",
        "approve_beyond": "Approve beyond (bits)",
    }

    def __init__(self, *args, check_settings=None, **kwargs):
        """One number field per check threshold (`th__<check>__<key>`), prefilled with
        the preset's value or the default."""
        super().__init__(*args, **kwargs)
        from moderation.checks import DEFAULTS, settings_for

        for check, defaults in DEFAULTS.items():
            current = settings_for(check_settings, check)
            for key in defaults:
                self.fields[f"th__{check}__{key}"] = forms.FloatField(
                    label=self.THRESHOLD_LABELS[key], required=False, initial=current[key]
                )

    def threshold_groups(self):
        """[(check label, [bound fields])] for the template."""
        from moderation.checks import DEFAULTS
        from moderation.models import Check

        return [
            (Check(check).label, [self[f"th__{check}__{key}"] for key in keys])
            for check, keys in DEFAULTS.items()
        ]

    def check_settings(self) -> dict:
        """The thresholds that differ from the defaults, as the preset stores them."""
        from moderation.checks import DEFAULTS

        out: dict[str, dict] = {}
        for check, defaults in DEFAULTS.items():
            for key, default in defaults.items():
                value = self.cleaned_data.get(f"th__{check}__{key}")
                if value is not None and value != default:
                    out.setdefault(check, {})[key] = int(value) if value.is_integer() else value
        return out

    def clean_folder(self):
        from assets.models import Folder

        path = self.cleaned_data["folder"].strip().rstrip("/")
        if not path:
            return None
        if not path.startswith("/"):
            path = "/" + path
        folder = Folder.objects.filter(path=path).first()
        if folder is None:
            raise forms.ValidationError("No folder has this path.")
        return folder


# -- collections (issue 6) ----------------------------------------------------------------
COLLECTION_LEVEL_CHOICES = [
    ("view", "View"),
    ("share", "Share"),
    ("collaborate", "Collaborate"),
    ("manage", "Manage"),
]


class CollectionForm(forms.Form):
    name = forms.CharField(label="Name", max_length=200)
    description = forms.CharField(
        label="Description",
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3}),
    )


class CollectionShareForm(ShareForm):
    level = forms.ChoiceField(
        label="Access level", choices=COLLECTION_LEVEL_CHOICES, initial="view", required=False
    )


class PublishForm(forms.Form):
    expires_at = forms.DateField(
        label="Expires on",
        required=False,
        help_text="Optional. The link stops working at the end of this day.",
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    allow_originals = forms.BooleanField(
        label="Allow downloading originals",
        required=False,
        help_text="Otherwise visitors download the web-size preview.",
    )
