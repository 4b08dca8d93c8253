from django.apps import AppConfig


class WorkspacesConfig(AppConfig):
    name = "apps.workspaces"
    label = "workspaces"
    verbose_name = "Workspaces"

    def ready(self) -> None:
        from studio import logsafety

        logsafety.install()
        # Load the Celery app while Django sets up, before any request or task runs: every
        # `@shared_task` of every thread then resolves to it (studio/celery.py makes it the
        # default). Not in studio/__init__.py: the `studio` CLI imports that package and must
        # not load Django.
        import studio.celery  # noqa: F401
