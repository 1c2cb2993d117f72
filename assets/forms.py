from django import forms


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
        if kind not in ("user", "group") or not pk.isdigit():
            raise forms.ValidationError("Choose a user or a group.")
        return kind, int(pk)
