"""Thin Celery wrappers for the cross-cutting work: report snapshots and rollups."""

from celery import shared_task
from django.db import OperationalError


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def take_library_snapshot() -> int:
    from dam import reports

    pk = reports.snapshot_take().pk
    reports.rollups_refresh()  # the dashboard's long periods: nothing to do most runs
    return pk


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def roll_up_usage() -> int:
    from dam import reports

    return reports.rollups_refresh()
