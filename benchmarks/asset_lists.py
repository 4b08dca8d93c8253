"""Server time of the asset list pages and list API calls with many assets and versions.

    .venv/bin/python benchmarks/asset_lists.py [--names 1000] [--versions 10000] [--runs 20]

Creates a throwaway workspace in a temporary STUDIO_HOME (SQLite) or in $DATABASE_URL's
database when set, with `--names` data assets and `--versions` versions of one of them, then
times, in-process through Django's test client (no network), each of:
  - the Data list page (/w/<ws>/data/), first page and a search;
  - the list API (/api/v1/workspaces/<ws>/data/);
  - the versions tab of the asset with many versions, and its versions API;
printing the median and p90 server time and the number of queries of each. The issue's goal:
under 100 ms and a constant number of queries.

On PostgreSQL the pages are timed right after the bulk insert, before any ANALYZE (and this
machine's server runs with autovacuum off): the planner believes a name has a handful of
versions, so the queries must stay cheap without statistics (a page's ids are picked by a
narrow subquery before any join; the page count is the asset's version_count).
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
    parser.add_argument("--names", type=int, default=1000)
    parser.add_argument("--versions", type=int, default=10000)
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
    from rest_framework.test import APIClient

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)
    from django.contrib.auth import get_user_model

    from apps.assets.models import DataVersion, Kind
    from apps.assets.services import versions
    from apps.workspaces.services import workspace_create

    user_model = get_user_model()
    suffix = str(int(time.time()))
    user = user_model.objects.create_user(f"bench{suffix}", password="x")
    workspace = workspace_create(actor=user, name=f"bench{suffix}")

    t0 = time.perf_counter()
    first = versions.version_create(
        actor=None,
        workspace=workspace,
        kind=Kind.DATA,
        name="big",
        fields={"type": "uri_file", "path": "https://example.org/x.csv"},
    )
    DataVersion.objects.bulk_create(
        (
            DataVersion(
                workspace=workspace,
                asset=first.asset,
                name="big",
                version=str(i),
                type="uri_file",
                path="https://example.org/x.csv",
            )
            for i in range(2, args.versions + 1)
        ),
        batch_size=2000,
    )
    first.asset.version_count = args.versions
    first.asset.latest_version = str(args.versions)
    first.asset.save()
    for i in range(1, args.names):
        versions.version_create(
            actor=None,
            workspace=workspace,
            kind=Kind.DATA,
            name=f"asset-{i:05d}",
            description=f"asset number {i}",
            fields={"type": "uri_file", "path": "https://example.org/x.csv"},
        )
    print(
        f"set-up: {args.names} names, {args.versions} versions of one, "
        f"{time.perf_counter() - t0:.1f} s on {connection.vendor}"
    )

    page = Client()
    page.force_login(user)
    api = APIClient()
    api.force_authenticate(user)
    ws = workspace.name
    cases = [
        ("list page", lambda: page.get(f"/w/{ws}/data/")),
        ("list page, search", lambda: page.get(f"/w/{ws}/data/?q=number+99")),
        ("list page, by updated", lambda: page.get(f"/w/{ws}/data/?sort=-updated&page=10")),
        ("list API", lambda: api.get(f"/api/v1/workspaces/{ws}/data/")),
        ("versions tab (10k)", lambda: page.get(f"/w/{ws}/data/big/versions/1/?tab=versions")),
        ("versions API (10k)", lambda: api.get(f"/api/v1/workspaces/{ws}/data/big/versions/")),
        ("version page", lambda: page.get(f"/w/{ws}/data/big/")),
    ]
    print(f"{'request':26} {'median ms':>10} {'p90 ms':>8} {'queries':>8}")
    for label, call in cases:
        response = call()
        assert response.status_code == 200, (label, response.status_code)
        times = []
        for _ in range(args.runs):
            with CaptureQueriesContext(connection) as ctx:
                t = time.perf_counter()
                call()
                times.append((time.perf_counter() - t) * 1000)
        times.sort()
        p90 = times[min(len(times) - 1, int(len(times) * 0.9))]
        print(
            f"{label:26} {statistics.median(times):10.1f} {p90:8.1f} {len(ctx.captured_queries):8}"
        )


if __name__ == "__main__":
    main()
