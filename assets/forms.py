from django import forms


class FolderCreateForm(forms.Form):
    name = forms.CharField(label="Folder name", max_length=255, strip=True)
