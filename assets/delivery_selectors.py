"""Reads of delivery: presets, and the asset a delivery URL names."""

from __future__ import annotations

from assets.models import Asset, DeliveryPreset


def preset_map() -> dict[str, str]:
    """{name: transformation} of every transformation preset."""
    return dict(DeliveryPreset.objects.values_list("name", "transformation"))


def presets() -> list[DeliveryPreset]:
    return list(DeliveryPreset.objects.all())


def asset_by_public_id(public_id: str) -> Asset | None:
    """A live asset (not in the trash) by its public ID, or None."""
    if not public_id or len(public_id) > 255 or "\x00" in public_id:
        return None
    return Asset.objects.filter(public_id=public_id).first()


def preset_or_404(name: str) -> DeliveryPreset:
    from django.http import Http404

    name = str(name)
    # A NUL cannot reach PostgreSQL, and no preset has a longer name than its column.
    valid = "\x00" not in name and len(name) <= 50
    preset = DeliveryPreset.objects.filter(name=name).first() if valid else None
    if preset is None:
        raise Http404("No such preset.")
    return preset
