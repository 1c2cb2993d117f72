"""The automation rule form: flat fields for the page, turned into the service's data
(trigger parameters and a list of actions). Rules are checked by assets.automation."""

from __future__ import annotations

from django import forms
from django.contrib.auth.models import Group

from assets.automation import DAYS_AHEAD_MAX, NAME_MAX
from assets.models import AutomationRule, AutomationTrigger, Folder

ACTION_FIELDS = {  # action type: the form fields of its parameters
    "restrict": (),
    "unpublish": (),
    "set_metadata": ("metadata_field", "metadata_value"),
    "add_tags": ("add_tags",),
    "remove_tags": ("remove_tags",),
    "move": ("move_folder",),
    "trash": (),
    "email": ("email_to", "email_group", "email_message"),
}
# Where a service error on a field lands on the form.
ERROR_FIELDS = {"metadata": "metadata_value", "actions": None, "non_field_errors": None}


def _folder_by_path(path: str) -> Folder | None:
    path = "/" + path.strip().strip("/")
    return Folder.objects.filter(path=path).first()


class RuleForm(forms.Form):
    name = forms.CharField(max_length=NAME_MAX, label="Name")
    trigger = forms.ChoiceField(
        choices=AutomationTrigger.choices, widget=forms.RadioSelect, label="When"
    )
    date_field = forms.CharField(
        required=False, label="Date field", widget=forms.Select(choices=[("", "Choose a field")])
    )
    days_ahead = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=DAYS_AHEAD_MAX,
        initial=0,
        label="Days ahead",
        help_text="0: on the date itself; 7: from a week before. Dates already past count too.",
    )
    folder = forms.CharField(
        required=False,
        max_length=2000,
        label="Folder",
        help_text="A folder path such as /Inbox; its sub-folders count too.",
    )
    expression = forms.CharField(
        required=False,
        max_length=3000,
        label="Search expression",
        help_text="The search language, e.g. tags:raw AND type:image. Uploads made after the "
        "rule is saved are checked during their first 24 hours.",
    )
    act_restrict = forms.BooleanField(required=False, label="Restrict access")
    act_unpublish = forms.BooleanField(
        required=False,
        label="Remove from published collections",
        help_text="Takes the asset out of every collection with a live public link; the "
        "link and the other assets stay.",
    )
    act_set_metadata = forms.BooleanField(required=False, label="Set metadata")
    metadata_field = forms.CharField(
        required=False,
        label="Metadata field",
        widget=forms.Select(choices=[("", "Choose a field")]),
    )
    metadata_value = forms.CharField(
        required=False,
        max_length=5000,
        label="Metadata value",
        help_text="List fields take a value's ID (a multi-select list: several, separated "
        "by commas). Empty clears the field.",
    )
    act_add_tags = forms.BooleanField(required=False, label="Add tags")
    add_tags = forms.CharField(
        required=False, max_length=5000, label="Tags to add", help_text="Separated by commas."
    )
    act_remove_tags = forms.BooleanField(required=False, label="Remove tags")
    remove_tags = forms.CharField(
        required=False, max_length=5000, label="Tags to remove", help_text="Separated by commas."
    )
    act_move = forms.BooleanField(required=False, label="Move to a folder")
    move_folder = forms.CharField(
        required=False, max_length=2000, label="Destination folder", help_text="A folder path."
    )
    act_trash = forms.BooleanField(required=False, label="Move to the trash")
    act_email = forms.BooleanField(required=False, label="Send an email")
    email_to = forms.ChoiceField(
        required=False,
        choices=[("uploader", "The uploader"), ("group", "A group")],
        widget=forms.RadioSelect,
        label="Email",
        initial="uploader",
    )
    email_group = forms.CharField(
        required=False, label="Group", widget=forms.Select(choices=[("", "Choose a group")])
    )
    email_message = forms.CharField(
        required=False,
        max_length=2000,
        label="Message",
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Added to the email, above the list of assets.",
    )

    def __init__(self, *args, schema=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.schema = schema
        fields = list(schema.fields) if schema is not None else []
        self.fields["date_field"].widget.choices = [("", "Choose a field")] + [
            (f.external_id, f.label) for f in fields if f.type == "date"
        ]
        self.fields["metadata_field"].widget.choices = [("", "Choose a field")] + [
            (f.external_id, f.label) for f in fields
        ]
        groups = Group.objects.order_by("name").values_list("pk", "name")
        self.fields["email_group"].widget.choices = [("", "Choose a group")] + [
            (str(pk), name) for pk, name in groups
        ]

    def action_groups(self):
        """(checkbox, [parameter fields]) per action, in the order they run."""
        return [
            (self[f"act_{kind}"], [self[name] for name in names])
            for kind, names in ACTION_FIELDS.items()
        ]

    def _folder_id(self, name: str):
        path = self.cleaned_data.get(name) or ""
        if not path.strip():
            return None
        folder = _folder_by_path(path)
        if folder is None:
            self.add_error(name, "No folder has this path.")
            return None
        return folder.pk

    def service_data(self) -> dict | None:
        """The service's arguments, or None when a folder path did not resolve."""
        d = self.cleaned_data
        data = {
            "name": d["name"],
            "trigger": d["trigger"],
            "date_field": d.get("date_field") or "",
            "days_ahead": d.get("days_ahead") or 0,
            "folder": None,
            "expression": d.get("expression") or "",
        }
        if d["trigger"] == AutomationTrigger.FOLDER_ENTERED:
            data["folder"] = self._folder_id("folder")
            if data["folder"] is None and not self.has_error("folder"):
                self.add_error("folder", "Choose a folder.")
        actions = []
        for kind in ACTION_FIELDS:
            if not d.get(f"act_{kind}"):
                continue
            action: dict = {"type": kind}
            if kind in ("add_tags", "remove_tags"):
                action["tags"] = d.get(kind) or ""
            elif kind == "move":
                action["folder"] = self._folder_id("move_folder")
                if action["folder"] is None and not self.has_error("move_folder"):
                    self.add_error("move_folder", "Choose a folder.")
            elif kind == "set_metadata":
                key = d.get("metadata_field") or ""
                value = d.get("metadata_value") or None
                f = self.schema.by_id.get(key) if self.schema is not None else None
                if value and f is not None and f.type == "set":
                    value = [v.strip() for v in value.split(",") if v.strip()]
                action["values"] = {key: value} if key else {}
            elif kind == "email":
                action["to"] = d.get("email_to") or ""
                if action["to"] == "group":
                    action["group"] = d.get("email_group") or None
                action["message"] = d.get("email_message") or ""
            actions.append(action)
        data["actions"] = actions
        return None if self.errors else data

    def add_service_error(self, exc) -> None:
        """A ServiceError from the rule services, on the field it names."""
        field = ERROR_FIELDS.get(exc.field, exc.field)
        if field is not None and field.startswith("metadata."):
            field = "metadata_value"
        if field not in self.fields:
            field = None
        self.add_error(field, exc.message)


def rule_initial(rule: AutomationRule) -> dict:
    """The form's values for an existing rule."""
    initial = {
        "name": rule.name,
        "trigger": rule.trigger,
        "date_field": rule.date_field,
        "days_ahead": rule.days_ahead,
        "folder": rule.folder.path if rule.folder else "",
        "expression": rule.expression,
    }
    for action in rule.actions:
        kind = action["type"]
        initial[f"act_{kind}"] = True
        if kind in ("add_tags", "remove_tags"):
            initial[kind] = ", ".join(action["tags"])
        elif kind == "move":
            folder = Folder.objects.filter(pk=action["folder"]).first()
            initial["move_folder"] = folder.path if folder else ""
        elif kind == "set_metadata" and action["values"]:
            key, value = next(iter(action["values"].items()))
            initial["metadata_field"] = key
            if isinstance(value, list):
                value = ", ".join(str(v) for v in value)
            initial["metadata_value"] = "" if value is None else str(value)
        elif kind == "email":
            initial["email_to"] = action["to"]
            initial["email_group"] = str(action.get("group") or "")
            initial["email_message"] = action.get("message", "")
    return initial
