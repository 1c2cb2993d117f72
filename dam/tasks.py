"""Thin Celery wrappers for the cross-cutting work: report snapshots."""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def take_library_snapshot() -> int:
    from dam import reports

    return reports.snapshot_take().pk
