"""Test data: factories and media generated in memory (nothing is downloaded)."""

from __future__ import annotations

import io

import factory
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from accounts.models import FolderGroupGrant, FolderUserGrant, Role, User, UserStatus
from accounts.policy import Level

PASSWORD = "correct-horse-battery"


def image_bytes(width=640, height=480, color=(200, 60, 60), fmt="JPEG") -> bytes:
    img = Image.new("RGB", (width, height), color)
    for x in range(0, width, max(1, width // 8)):
        for y in range(height // 3, height // 2):
            img.putpixel((x, y), (20, 20, 20))
    out = io.BytesIO()
    img.save(out, fmt)
    return out.getvalue()


def image_upload(name="photo.jpg", **kwargs) -> SimpleUploadedFile:
    fmt = {"png": "PNG", "gif": "GIF", "webp": "WEBP"}.get(name.rsplit(".", 1)[-1].lower(), "JPEG")
    return SimpleUploadedFile(name, image_bytes(fmt=fmt, **kwargs))


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    # Plain names: random ones ("Brandi") collide with text that tests look for.
    first_name = factory.Sequence(lambda n: f"Pat{n}")
    last_name = "Tester"
    role = Role.MEDIA_LIBRARY_USER
    status = UserStatus.ACTIVE
    password = factory.PostGenerationMethodCall("set_password", PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class AdminFactory(UserFactory):
    role = Role.MASTER_ADMIN


class GroupFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Group

    name = factory.Sequence(lambda n: f"Group {n}")


def make_folder(path: str, actor=None):
    """Create /A/B/C (and missing parents) through the service, as an admin."""
    from assets import services
    from assets.models import Folder

    actor = actor or AdminFactory()
    parent = None
    built = ""
    for name in [p for p in path.split("/") if p]:
        built += f"/{name}"
        folder = Folder.objects.filter(path=built).first()
        parent = folder or services.folder_create(actor=actor, name=name, parent=parent)
    return parent


def grant(principal, folder, level: Level | str):
    level = Level.from_label(level) if isinstance(level, str) else level
    permission = Permission.objects.get(codename=level.codename, content_type__app_label="assets")
    if isinstance(principal, Group):
        return FolderGroupGrant.objects.update_or_create(
            group=principal, content_object=folder, defaults={"permission": permission}
        )[0]
    return FolderUserGrant.objects.update_or_create(
        user=principal, content_object=folder, defaults={"permission": permission}
    )[0]


def make_asset(folder, actor=None, name="photo.jpg", **kwargs):
    from assets import services

    actor = actor or AdminFactory()
    upload = image_upload(name)
    return services.asset_upload(
        actor=actor, file=upload, filename=upload.name, folder=folder, **kwargs
    )


def slow_searches(monkeypatch, *, sleep_seconds: float = 0.5, limit_ms: int = 100) -> None:
    """Every search sleeps `sleep_seconds` in PostgreSQL, past a search time limit of
    `limit_ms`: the search's own query is what gets stopped, as a slow one would be."""
    from django.db.models import BooleanField
    from django.db.models.expressions import RawSQL

    from assets import search

    real = search.matching
    sleep = RawSQL("(SELECT true FROM pg_sleep(%s))", (sleep_seconds,), BooleanField())

    def slow(user, params, schema=None):
        return real(user, params, schema).filter(sleep)

    monkeypatch.setattr(search, "matching", slow)
    monkeypatch.setattr(search, "TIMEOUT_MS", limit_ms)
