"""The studio's Django project. Importing it loads the Celery app first (Celery's advice for
Django), so that every `@shared_task` resolves to it, in every thread of every process: the
web's request threads, the test live server's, the workers'."""

from .celery import app as celery_app

__all__ = ("celery_app",)
