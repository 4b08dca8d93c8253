from django.apps import AppConfig


class DesignerConfig(AppConfig):
    name = "apps.designer"
    label = "designer"
