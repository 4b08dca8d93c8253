"""The Celery app. `celery -A studio worker` finds it here (Celery looks for studio.celery).

Each compute target is a queue; a worker serves the queues it is started with (-Q). Periodic
tasks live in the one beat schedule below.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

app = Celery("studio")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {}
