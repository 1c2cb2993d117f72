"""Thin Celery wrapper for resumable uploads (beat: dam/celery.py)."""

from celery import shared_task
from django.db import OperationalError

from assets import uploads


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def sweep_stale_uploads() -> dict:
    return uploads.upload_sessions_sweep()
