"""Thin Celery wrappers for account mail."""

from smtplib import SMTPException

from celery import shared_task
from django.core.mail import send_mail


@shared_task(
    acks_late=True,
    autoretry_for=(OSError, SMTPException),
    retry_backoff=10,
    retry_jitter=True,
    max_retries=6,
)
def send_email(subject: str, body: str, recipient: str) -> None:
    send_mail(subject, body, None, [recipient], fail_silently=False)
