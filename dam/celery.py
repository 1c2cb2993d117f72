import os

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dam.settings")

app = Celery("dam")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.autodiscover_tasks(related_name="tasks_uploads")

# Periodic work run by `celery beat` (exactly one beat process per deployment).
app.conf.beat_schedule = {
    # The reports' library totals and the storage alert.
    "take-library-snapshot": {
        "task": "dam.tasks.take_library_snapshot",
        "schedule": 900.0,
    },
    # The reports' rollups, just after the offered periods move (midnight: their first
    # day; 1 a.m.: yesterday settles); the snapshot's runs catch up if these are missed.
    "roll-up-usage": {
        "task": "dam.tasks.roll_up_usage",
        "schedule": crontab(minute=1, hour="0,1"),
    },
    "requeue-stuck-versions": {
        "task": "assets.tasks.requeue_stuck_versions",
        "schedule": 300.0,
    },
    # Trash past Preferences.trash_retention_days, then blobs no row references.
    "purge-expired-trash": {
        "task": "assets.tasks.purge_expired_trash",
        "schedule": 3600.0,
    },
    "sweep-orphan-blobs": {
        "task": "assets.tasks.sweep_orphan_blobs",
        "schedule": 6 * 3600.0,
    },
    # Resumable uploads idle for 24 hours, and their spool files.
    "sweep-stale-uploads": {
        "task": "assets.tasks_uploads.sweep_stale_uploads",
        "schedule": 3600.0,
    },
    # Automation rules: each claims one run per day (date rules) or per 10-minute slot.
    "automation-sweep": {
        "task": "assets.tasks.automation_sweep",
        "schedule": 600.0,
    },
}
