from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "apps.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from studio import logsafety

        logsafety.install()
