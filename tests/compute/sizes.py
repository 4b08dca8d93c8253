"""The VM size presets that migration 0003 seeds. Transactional tests (live_server, real
worker processes, concurrent connections) start from a flushed database, which keeps no
data migration's rows, so they put the presets back with `seed_vm_sizes()`."""

from __future__ import annotations

import importlib
from decimal import Decimal

SIZES = importlib.import_module("apps.workspaces.migrations.0003_seed_vm_sizes").SIZES


def seed_vm_sizes() -> None:
    from apps.workspaces.models import VmSize

    VmSize.objects.bulk_create(
        [
            VmSize(name=name, cores=Decimal(cores), memory_gb=Decimal(memory), gpus=gpus,
                   description=description)
            for name, cores, memory, gpus, description in SIZES
        ],
        ignore_conflicts=True,
    )  # fmt: skip
