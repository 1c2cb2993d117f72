"""Demo data for a first run: groups, folders, personas, generated images. Idempotent."""

from __future__ import annotations

import io
import random

from django.contrib.auth.models import Group
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management.base import BaseCommand
from django.db import transaction
from PIL import Image, ImageDraw

from accounts.models import FolderGroupGrant, FolderUserGrant, Role, User, UserStatus
from accounts.policy import Level
from assets import services
from assets.models import Asset, Folder

PERSONAS = [
    # (email, first name, last name, role, password, permissions); the persona is the name.
    ("admin@example.com", "Ada", "Admin", Role.MASTER_ADMIN, "demo-admin-pass", {}),
    (
        "user@example.com",
        "Uma",
        "User",
        Role.MEDIA_LIBRARY_USER,
        "demo-user-pass",
        {"can_create_collections": True, "can_share_collections": True},
    ),
    (
        "moderator@example.com",
        "Max",
        "Moderator",
        Role.MEDIA_LIBRARY_USER,
        "demo-moderator-pass",
        {"can_moderate_assets": True},
    ),
]
FOLDERS = [
    "/Marketing",
    "/Marketing/Spring campaign",
    "/Marketing/Social",
    "/Brand",
    "/Brand/Logos",
    "/Product",
]
PALETTE = [
    "#3f51d8",
    "#e4572e",
    "#17bebb",
    "#ffc914",
    "#76b041",
    "#8e44ad",
    "#2d3047",
    "#ff6f91",
]


def demo_image(seed: int, width: int, height: int) -> bytes:
    rnd = random.Random(seed)
    img = Image.new("RGB", (width, height), rnd.choice(PALETTE))
    draw = ImageDraw.Draw(img)
    for _ in range(6):
        x0, y0 = rnd.randrange(width), rnd.randrange(height)
        r = rnd.randrange(min(width, height) // 8, min(width, height) // 2)
        draw.ellipse((x0 - r, y0 - r, x0 + r, y0 + r), fill=rnd.choice(PALETTE))
    draw.rectangle((0, height * 0.8, width, height), fill=rnd.choice(PALETTE))
    out = io.BytesIO()
    img.save(out, "JPEG" if seed % 3 else "PNG", quality=88)
    return out.getvalue()


class Command(BaseCommand):
    help = "Load demo groups, folders, users and images (safe to run again)."

    def handle(self, *args, **options):
        with transaction.atomic():
            users = {}
            for email, first, last, role, password, perms in PERSONAS:
                user = (
                    User.objects.filter(email__iexact=email)
                    .exclude(status=UserStatus.INACTIVE)
                    .first()
                )
                if user is None:
                    user = User.objects.create_user(
                        email,
                        password,
                        first_name=first,
                        last_name=last,
                        role=role,
                        status=UserStatus.ACTIVE,
                        **perms,
                    )
                users[email] = user
            admin = users["admin@example.com"]

            designers, _ = Group.objects.get_or_create(name="Designers")
            reviewers, _ = Group.objects.get_or_create(name="Reviewers")
            Group.objects.get_or_create(name="Agency partners")
            users["user@example.com"].groups.add(designers)
            users["moderator@example.com"].groups.add(reviewers)

            folders: dict[str, Folder] = {}
            for path in FOLDERS:
                parent_path, _, name = path.rpartition("/")
                folder = Folder.objects.filter(path=path).first()
                if folder is None:
                    folder = services.folder_create(
                        actor=admin, name=name, parent=folders.get(parent_path)
                    )
                folders[path] = folder

            self._grant(
                FolderGroupGrant,
                "group",
                designers,
                folders["/Marketing"],
                Level.CONTRIBUTE,
            )
            self._grant(FolderGroupGrant, "group", reviewers, folders["/Marketing"], Level.EDIT)
            self._grant(
                FolderUserGrant,
                "user",
                users["user@example.com"],
                folders["/Brand"],
                Level.VIEW,
            )

        from metadata.demo import build_demo
        from metadata.models import MetadataField

        if not MetadataField.all_objects.exists():
            with transaction.atomic():
                build_demo(admin)

        if not Asset.objects.exists():
            for i, (path, w, h) in enumerate(
                [
                    ("/Marketing/Spring campaign", 1600, 1067),
                    ("/Marketing/Spring campaign", 1200, 1500),
                    ("/Marketing/Spring campaign", 2000, 1000),
                    ("/Marketing/Social", 1080, 1080),
                    ("/Marketing/Social", 1080, 1350),
                    ("/Brand/Logos", 800, 800),
                    ("/Brand", 1920, 1080),
                    ("/Product", 1500, 1000),
                ]
            ):
                data = demo_image(i + 1, w, h)
                ext = "jpg" if (i + 1) % 3 else "png"
                upload = SimpleUploadedFile(f"demo-{i + 1}.{ext}", data)
                services.asset_upload(
                    actor=admin,
                    file=upload,
                    filename=upload.name,
                    folder=folders[path],
                    display_name=f"Demo image {i + 1}",
                    tags=["demo"],
                )
        from assets.models import Collection

        if not Collection.objects.exists():
            self._demo_collection(admin, users["moderator@example.com"])
        self.stdout.write("Demo logins:")
        for email, first, last, _role, password, _ in PERSONAS:
            self.stdout.write(f"  {first + ' ' + last:<14} {email:<24} {password}")

    @staticmethod
    def _grant(model, field, principal, folder, level):
        from django.contrib.auth.models import Permission

        permission = Permission.objects.get(
            codename=level.codename, content_type__app_label="assets"
        )
        model.objects.get_or_create(
            **{field: principal, "content_object": folder},
            defaults={"permission": permission},
        )

    @staticmethod
    def _demo_collection(admin, moderator) -> None:
        """One curated set across folders, shared with the moderator (who has no access to
        /Brand or /Product), so "Shared with me" and the collection exception show."""
        from accounts.policy import CollectionLevel
        from assets import collection_services

        picks = Asset.objects.filter(folder__path__in=["/Marketing/Spring campaign", "/Product"])
        collection = collection_services.collection_create(
            actor=admin, name="Spring launch picks", description="Hero images for the launch."
        )
        collection_services.collection_add(
            actor=admin, collection=collection, ids=list(picks.values_list("pk", flat=True))
        )
        collection_services.collection_share(
            actor=admin,
            collection=collection,
            principal=moderator,
            level=CollectionLevel.VIEW,
        )
