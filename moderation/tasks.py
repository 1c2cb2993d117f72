"""Thin Celery wrappers: ids in, services do the work."""

from __future__ import annotations

from celery import shared_task
from django.db import OperationalError

from moderation import services


@shared_task(
    acks_late=True, autoretry_for=(OperationalError, OSError), retry_backoff=5, max_retries=3
)
def auto_moderate(asset_id: int, version: int):
    return services.auto_moderate(asset_id=asset_id, version=version)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def notify_rejection(decision_id: int):
    return services.notify_rejection(decision_id=decision_id)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def email_rejection(decision_id: int):
    return services.email_rejection(decision_id=decision_id)
