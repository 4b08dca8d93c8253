"""Server time of the Designer's gestures on a 100-node draft.

    .venv/bin/python benchmarks/designer_gestures.py [--nodes 100] [--runs 20]

Creates a throwaway workspace (in a temporary STUDIO_HOME with SQLite, or in $DATABASE_URL's
database when set) with a component and a draft of `--nodes` nodes in a chain, then times,
in-process through Django's test client (no network), each gesture's request as the canvas
sends it: add a node, move a node, connect two ports, change a parameter (the properties
panel's POST). Prints the median and p90 server time and the queries of each. The issue's
goal: each under 100 ms.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100)
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()

    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ["DJANGO_ALLOWED_HOSTS"] = "*"
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from apps.assets.models import Kind
    from apps.assets.services import versions
    from apps.assets.services.components import component_create
    from apps.designer import drafts
    from apps.workspaces.services import workspace_create

    suffix = str(int(time.time()))
    user = get_user_model().objects.create_user(f"bench{suffix}", password="x")
    workspace = workspace_create(actor=user, name=f"bench{suffix}")
    versions.version_create(
        actor=user, workspace=workspace, kind=Kind.ENVIRONMENT, name="env", version="1",
        fields={"source": "image", "image": "python:3.11-slim", "spec_hash": "0" * 64},
    )  # fmt: skip
    component_create(
        actor=user, workspace=workspace,
        data={"name": "step", "version": "1", "environment": "azureml:env:1",
              "command": "python s.py ${{inputs.data}} ${{inputs.k}} ${{outputs.out}}",
              "inputs": {"data": {"type": "uri_folder"},
                         "k": {"type": "integer", "default": 1, "min": 0, "max": 1000}},
              "outputs": {"out": {"type": "uri_folder"}}},
    )  # fmt: skip
    nodes = {
        f"step_{i}": {"kind": "component", "ref": "azureml:step:1", "label": f"Step {i}",
                      "x": 40 + 300 * i, "y": 40, "params": {}, "compute": ""}
        for i in range(args.nodes)
    }  # fmt: skip
    edges = [
        {"id": f"step_{i}.out->step_{i + 1}.data", "source": [f"step_{i}", "out"],
         "target": [f"step_{i + 1}", "data"]}
        for i in range(args.nodes - 1)
    ]  # fmt: skip
    draft = drafts.draft_create(
        actor=user, workspace=workspace, name="bench",
        graph={"nodes": nodes, "edges": edges, "settings": {}},
    )  # fmt: skip
    client = Client()
    client.force_login(user)
    base = f"/w/{workspace.name}/designer/{draft.pk}/"
    gestures = {
        "add": lambda i: ("gesture/", {"op": "add", "kind": "component", "ref": "azureml:step:1",
                                       "x": 10 * i, "y": 600}),
        "move": lambda i: ("gesture/", {"op": "move", "node": "step_5", "x": 100 + i, "y": 90}),
        "connect": lambda i: ("gesture/", {"op": "connect", "source": f"step_{i % 50}:out",
                                           "target": f"step_{args.nodes - 1 - i % 40}:data"}),
        "set parameter": lambda i: ("nodes/step_7/", {"param.k": str(i)}),
    }  # fmt: skip
    print(f"draft of {args.nodes} nodes, {len(edges)} edges, on {connection.vendor}")
    for name, make in gestures.items():
        times, queries = [], 0
        for i in range(args.runs):
            tail, data = make(i)
            with CaptureQueriesContext(connection) as ctx:
                t0 = time.perf_counter()
                response = client.post(base + tail, data, HTTP_HX_REQUEST="true")
                times.append((time.perf_counter() - t0) * 1000)
            assert response.status_code == 200, (name, response.status_code, response.content[:300])
            queries = len(ctx.captured_queries)
        times.sort()
        p90 = times[int(len(times) * 0.9) - 1]
        print(f"{name:14s} median {statistics.median(times):6.1f} ms  p90 {p90:6.1f} ms  "
              f"{queries} queries")  # fmt: skip


if __name__ == "__main__":
    main()
