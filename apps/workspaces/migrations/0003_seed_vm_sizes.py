"""Seed the compute size presets with common Azure VM sizes (cores, memory in GiB, GPUs).
Admins add their own in the admin; these are only the starting table."""

from decimal import Decimal

from django.db import migrations

SIZES = [
    ("Standard_DS1_v2", "1", "3.5", 0, "General purpose"),
    ("Standard_DS2_v2", "2", "7", 0, "General purpose"),
    ("Standard_DS3_v2", "4", "14", 0, "General purpose (Azure ML's default)"),
    ("Standard_DS4_v2", "8", "28", 0, "General purpose"),
    ("Standard_DS5_v2", "16", "56", 0, "General purpose"),
    ("Standard_D2s_v3", "2", "8", 0, "General purpose"),
    ("Standard_D4s_v3", "4", "16", 0, "General purpose"),
    ("Standard_D8s_v3", "8", "32", 0, "General purpose"),
    ("Standard_D13_v2", "8", "56", 0, "Memory optimised"),
    ("Standard_E4s_v3", "4", "32", 0, "Memory optimised"),
    ("Standard_F4s_v2", "4", "8", 0, "Compute optimised"),
    ("Standard_NC4as_T4_v3", "4", "28", 1, "One NVIDIA T4 GPU"),
    ("Standard_NC6s_v3", "6", "112", 1, "One NVIDIA V100 GPU"),
]


def seed(apps, schema_editor):
    VmSize = apps.get_model("workspaces", "VmSize")
    for name, cores, memory, gpus, description in SIZES:
        VmSize.objects.get_or_create(
            name=name,
            defaults={
                "cores": Decimal(cores),
                "memory_gb": Decimal(memory),
                "gpus": gpus,
                "description": description,
            },
        )


def unseed(apps, schema_editor):
    apps.get_model("workspaces", "VmSize").objects.filter(name__in=[s[0] for s in SIZES]).delete()


class Migration(migrations.Migration):
    dependencies = [("workspaces", "0002_resources")]
    operations = [migrations.RunPython(seed, unseed)]
