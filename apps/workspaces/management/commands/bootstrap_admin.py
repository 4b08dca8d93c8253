"""Create the first admin account once: from STUDIO_ADMIN_USER / STUDIO_ADMIN_PASSWORD, or
with a generated password printed this one time. Does nothing when the user exists."""

import os
import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

from studio.settings import env_secret


class Command(BaseCommand):
    help = "Create the first admin account (idempotent)."

    def handle(self, *args, **options):
        User = get_user_model()
        username = os.environ.get("STUDIO_ADMIN_USER") or "admin"
        if User.objects.filter(username=username).exists():
            self.stdout.write(f"Admin account '{username}' exists.")
            return
        password = env_secret("STUDIO_ADMIN_PASSWORD")
        generated = not password
        if generated:
            password = secrets.token_urlsafe(12)
        User.objects.create_superuser(username=username, email="", password=password)
        if generated:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Created admin account '{username}' with password: {password}\n"
                    "This password is shown once; change it after signing in."
                )
            )
        else:
            self.stdout.write(self.style.SUCCESS(f"Created admin account '{username}'."))
