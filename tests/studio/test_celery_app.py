"""Every thread sends tasks through the studio's Celery app (its broker, its queues)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

# A fresh process, as gunicorn's: Django set up, then a shared task resolved first in a request
# thread, before anything imported studio.celery by name.
PROBE = """
import json, threading
import django
django.setup()
from apps.assets import tasks
seen = {}
def resolve():
    app = tasks.build_environment._get_current_object().app
    seen["thread"] = [app.main, app.conf.task_default_queue, app.conf.broker_url]
thread = threading.Thread(target=resolve)
thread.start()
thread.join()
app = tasks.build_environment._get_current_object().app
seen["main"] = [app.main, app.conf.task_default_queue, app.conf.broker_url]
print(json.dumps(seen))
"""


def test_a_task_sent_from_any_thread_goes_through_the_studio_app(tmp_path):
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "studio.settings",
        "STUDIO_HOME": str(tmp_path),
        "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
    }
    result = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=REPO, env=env, capture_output=True, text=True,
        timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    expected = ["studio", "studio", "redis://127.0.0.1:6379/9"]
    assert seen == {"thread": expected, "main": expected}
