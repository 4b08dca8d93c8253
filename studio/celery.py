"""The Celery app. `celery -A studio worker` finds it here (Celery looks for studio.celery).

Each compute target is a queue; a worker serves the queues it is started with (-Q). Periodic
tasks live in the one beat schedule below.
"""

import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
# The default app of every thread. A shared task sent from a thread that never imported this
# module (a gunicorn request thread, the live server of the tests) would otherwise resolve to
# Celery's unconfigured fallback app when anything resolved a task before this import: its own
# broker URL and a "celery" queue that no worker serves.
app.set_default()
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    "compute-scale-down": {"task": "compute.scale_down", "schedule": 30.0},
    "compute-run-schedules": {"task": "compute.run_schedules", "schedule": 60.0},
    "jobs-reap-orphans": {"task": "jobs.reap_orphans", "schedule": 30.0},
    "jobs-advance-pipelines": {"task": "jobs.advance_pipelines", "schedule": 30.0},
}


@signals.worker_ready.connect
def _serve_compute_queues(sender=None, **kwargs):
    """With STUDIO_WORKER_SERVES_ALL=true, consume every compute's queue (see
    apps/workspaces/tasks.py)."""
    from apps.workspaces.tasks import subscribe_compute_queues

    subscribe_compute_queues(sender)
