"""Thin Celery wrappers: take ids, call services."""

from celery import Task, shared_task
from django.db import OperationalError

from assets import services


class ProcessVersionTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        """Retries exhausted or an unexpected error: the asset says so, not 'processing'."""
        version_id = args[0] if args else kwargs.get("version_id")
        if version_id is not None:
            services.version_processing_failed(
                version_id=version_id,
                reason="Processing failed repeatedly; upload the file again or contact an admin.",
            )


@shared_task(
    base=ProcessVersionTask,
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


@shared_task
def requeue_stuck_versions() -> int:
    return services.versions_requeue_stuck()


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def notify_folder_shared(folder_id: int, principal_type: str, principal_id: int, actor_id: int):
    services.folder_share_notify(
        folder_id=folder_id,
        principal_type=principal_type,
        principal_id=principal_id,
        actor_id=actor_id,
    )


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def notify_collection_shared(
    collection_id: int, principal_type: str, principal_id: int, actor_id: int
):
    from assets import collection_services

    collection_services.collection_share_notify(
        collection_id=collection_id,
        principal_type=principal_type,
        principal_id=principal_id,
        actor_id=actor_id,
    )


# -- trash & orphans (issue 4) ------------------------------------------------------
@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def purge_expired_trash() -> dict:
    return services.trash_purge_expired()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def sweep_orphan_blobs(grace_hours: float = 24) -> dict:
    return services.orphans_sweep(grace_hours=grace_hours)


# -- automation rules (issue 9) -------------------------------------------------------
@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def automation_sweep() -> dict:
    from assets import automation

    return automation.automation_sweep()


@shared_task(acks_late=True, autoretry_for=(OperationalError,), retry_backoff=30, max_retries=3)
def automation_run_execute(run_id: int) -> None:
    from assets import automation

    automation.automation_run_execute(run_id=run_id)


@shared_task(
    acks_late=True,
    autoretry_for=(OperationalError, ConnectionError, OSError),
    retry_backoff=5,
    retry_jitter=True,
    max_retries=5,
)
def automation_run_notify(run_id: int) -> int:
    from assets import automation

    return automation.automation_run_notify(run_id=run_id)
