"""Thin Celery wrappers: take ids, call services."""

from celery import shared_task
from django.db import OperationalError

from assets import services


@shared_task(
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(OperationalError, FileNotFoundError, ConnectionError),
    retry_backoff=2,
    retry_backoff_max=300,
    retry_jitter=True,
    max_retries=8,
)
def process_version(version_id: int) -> None:
    services.version_process(version_id=version_id)
