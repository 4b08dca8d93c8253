"""Register the Designer's built-in components and sample datasets in existing workspaces:
`python manage.py ensure_builtins [--workspace NAME]` (all workspaces when no name)."""

from django.core.management.base import BaseCommand, CommandError

from apps.designer.builtins import builtins_ensure
from apps.workspaces.models import Workspace
from studio.errors import DomainError


class Command(BaseCommand):
    help = "Register the built-in Designer components and sample datasets (idempotent)."

    def add_arguments(self, parser):
        parser.add_argument("--workspace", default=None, help="Only this workspace (by name).")

    def handle(self, *args, workspace=None, **options):
        found = Workspace.objects.order_by("name")
        if workspace:
            found = found.filter(name__iexact=workspace)
            if not found.exists():
                raise CommandError(f"No workspace named {workspace!r}.")
        for ws in found:
            try:
                summary = builtins_ensure(workspace=ws)
            except DomainError as exc:
                raise CommandError(f"{ws.name}: {exc.message}") from None
            self.stdout.write(
                f"{ws.name}: components {', '.join(summary['components'])}; "
                f"data {', '.join(summary['data'])}"
            )
