from django.db import migrations
from django.db.models import ProtectedError


def remove_anonymous_user(apps, schema_editor):
    """django-guardian made an "AnonymousUser" row before it was switched off; it is no
    person, so it must not be listed or take a seat."""
    User = apps.get_model("accounts", "User")
    for user in User.objects.filter(email="AnonymousUser"):
        try:
            user.delete()
        except ProtectedError:
            User.objects.filter(pk=user.pk).update(status="inactive", is_active=False)


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_user_lifecycle")]

    operations = [migrations.RunPython(remove_anonymous_user, migrations.RunPython.noop)]
