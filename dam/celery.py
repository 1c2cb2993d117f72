import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "dam.settings")

app = Celery("dam")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic work run by `celery beat` (exactly one beat process per deployment).
app.conf.beat_schedule = {
    "requeue-stuck-versions": {
        "task": "assets.tasks.requeue_stuck_versions",
        "schedule": 300.0,
    },
}
