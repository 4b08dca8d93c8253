"""Print a new personal API token for a user: `python manage.py create_api_token USERNAME`."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone

from apps.workspaces import services
from studio.errors import DomainError


class Command(BaseCommand):
    help = "Create a personal API token for a user and print it (shown once)."

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--name", default=None, help="Token name (default: cli-<timestamp>)")
        parser.add_argument("--expires-in-days", type=int, default=None)

    def handle(self, *args, username, name, expires_in_days, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"No active user named {username!r}.")
        name = name or f"cli-{timezone.now():%Y%m%d-%H%M%S}"
        try:
            _, raw = services.token_create(actor=user, name=name, expires_in_days=expires_in_days)
        except DomainError as exc:
            raise CommandError(exc.message) from None
        self.stdout.write(raw)
