"""Reads for the library: permission-filtered through the policy, shaped for the page."""

from __future__ import annotations

from django.db.models import QuerySet

from accounts import policy
from assets.models import Asset, Folder


def folder_children(*, user, parent: Folder | None) -> QuerySet[Folder]:
    """Sub-folders shown under `parent`; at the top, the user's granted roots."""
    if parent is not None:
        return policy.visible_folders(user, Folder.objects.filter(parent=parent))
    top = policy.access_for(user).top_folder_ids()
    if top is None:
        return Folder.objects.filter(parent__isnull=True)
    return Folder.objects.filter(pk__in=top)


def folder_tree(*, user, current: Folder | None) -> list[tuple[Folder, int]]:
    """The sidebar tree: top folders plus the children along the path to `current`.

    Returns (folder, indent) pairs in tree order; never loads the whole tree.
    """
    folders = {f.pk: f for f in folder_children(user=user, parent=None)}
    if current is not None:
        along = policy.visible_folders(
            user, Folder.objects.filter(parent_id__in=current.ancestor_ids)
        )
        folders.update((f.pk, f) for f in along)
    ordered = sorted(
        folders.values(), key=lambda f: [part.casefold() for part in f.path.split("/")]
    )
    return [(f, sum(1 for a in f.ancestor_ids[:-1] if a in folders)) for f in ordered]


def folder_breadcrumbs(*, user, folder: Folder) -> list[Folder]:
    """The visible part of the folder's path (a user granted on /A/B never sees A)."""
    chain = Folder.objects.filter(pk__in=folder.ancestor_ids)
    visible = {f.pk: f for f in policy.visible_folders(user, chain)}
    return [visible[pk] for pk in folder.ancestor_ids if pk in visible]


def folder_assets(*, user, folder: Folder) -> QuerySet[Asset]:
    return policy.visible_assets(user, Asset.objects.filter(folder=folder)).select_related(
        "created_by"
    )
