"""Thin Celery wrappers: ids in, services do the work."""

from __future__ import annotations

from celery import shared_task

from metadata import services


@shared_task(acks_late=True, autoretry_for=(Exception,), retry_backoff=True, max_retries=5)
def strip_field_values(external_id: str) -> int:
    """A deleted field's values leave every asset (batched; safe to run twice)."""
    return services.field_values_strip(external_id=external_id)
