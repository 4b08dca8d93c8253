"""Load time of the pages that draw charts or a canvas, in Chromium, cold and warm cache.

    .venv/bin/python benchmarks/page_load.py [--runs 3] [--mbps 0] [--url http://127.0.0.1:8000]

Makes a throwaway workspace with a run that has 8 metrics of 200 steps, a pipeline run of 6
steps and an empty Designer draft, then opens, in Debian's Chromium driven by Playwright,
three pages: the job page's Metrics tab, the pipeline run page and the Designer draft page.
Each page is opened `--runs` times in a fresh browser context (cold cache: a first visit),
and each time once more in the same context after a detour by about:blank (warm cache: a
repeat visit). For each it prints the median (and the fastest) time from navigation start
to DOMContentLoaded and to "ready", and the bytes transferred (response bodies as sent,
with headers):

* Metrics tab ready: every chart drawn by plotly (each .chart has an SVG and data-loads);
* pipeline run ready: the load event (plotly and the step panel's scripts have run);
* Designer ready: the canvas initialised (designer.js drew the minimap).

Without --url it starts its own server, as `make run` does (gunicorn, whitenoise), on a
free port, over a temporary STUDIO_HOME with SQLite (or $DATABASE_URL's database when set),
after `manage.py collectstatic` as scripts/setup.sh runs it. With --url it measures a
running studio; run it then with the studio's own environment (STUDIO_HOME, DATABASE_URL):
it makes its data in the studio's database and signs in with a session made there.

--mbps N throttles the browser's network to N Mbit/s with 5 ms of latency (a LAN or VPN
rather than the loopback); 0, the default, leaves it alone. The machine's load shows in the
figures: compare runs made one after the other on the same machine, with --runs 3 or more.
"""

from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

READY = {
    "metrics": """() => {
        const charts = Array.from(document.querySelectorAll('#charts .chart'));
        return charts.length > 0 && charts.every(el => el.dataset.loads && el.querySelector('.main-svg'));
    }""",
    "pipeline": "() => document.readyState === 'complete'",
    "designer": "() => !!(document.getElementById('dz-minimap') || {dataset: {}}).dataset.scale",
}
TIMES = """() => {
    const nav = performance.getEntriesByType('navigation')[0];
    return {dcl: nav.domContentLoadedEventEnd, ready: performance.now()};
}"""


def setup_django() -> None:
    os.environ.setdefault("STUDIO_HOME", tempfile.mkdtemp(prefix="studio-bench-"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")  # Playwright's sync loop
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    settings.ALLOWED_HOSTS = ["*"]
    call_command("migrate", verbosity=0)


def make_data() -> tuple[dict[str, str], str]:
    """The three pages' paths and a session id of their workspace's owner."""
    from django.contrib.auth import get_user_model
    from django.test import Client

    from apps.designer import drafts
    from apps.workspaces.services import workspace_create
    from tests.matrix.jobs_pipelines import make_pipeline
    from tests.matrix.jobs_runs import make_run

    suffix = str(int(time.time() * 1000))
    user = get_user_model().objects.create_user(f"bench{suffix}", password="x")
    workspace = workspace_create(actor=user, name=f"bench{suffix}")
    metrics = {f"metric_{i}": [1 / (1 + s + i) for s in range(200)] for i in range(8)}
    make_run(workspace, name="bench-run", metrics=metrics)
    make_pipeline(workspace, "bench-pipeline", steps=6, owner=user)
    draft = drafts.draft_create(actor=user, workspace=workspace, name="bench draft")
    client = Client()
    client.force_login(user)
    w = f"/w/{workspace.name}"
    pages = {
        "metrics": f"{w}/jobs/bench-run/?tab=metrics",
        "pipeline": f"{w}/jobs/bench-pipeline/pipeline/",
        "designer": f"{w}/designer/{draft.pk}/",
    }
    return pages, client.cookies["sessionid"].value


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server() -> tuple[subprocess.Popen, str]:
    """gunicorn as `make run` starts it, after collectstatic as scripts/setup.sh runs it."""
    env = {**os.environ, "PATH": f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}"}
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "-v", "0"],
        cwd=ROOT, env=env, check=True,
    )  # fmt: skip
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "studio.wsgi:application", "--bind",
         f"127.0.0.1:{port}", "--workers", "2", "--threads", "4", "--log-level", "warning"],
        cwd=ROOT, env=env,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    for _ in range(150):
        try:
            urllib.request.urlopen(f"{url}/healthz", timeout=1)
            break
        except OSError as error:
            if getattr(error, "code", None):  # an HTTP error: the server answers
                break
            time.sleep(0.2)
    else:
        server.kill()
        raise SystemExit("gunicorn did not start")
    return server, url


def visit(page, cdp, url: str, ready: str) -> dict:
    """Open `url` in `page`; the times (ms) to DOMContentLoaded and ready, and bytes received."""
    sizes: dict[str, float] = {}
    cached = []

    def finished(event):
        sizes[event["requestId"]] = event.get("encodedDataLength", 0)

    def received(event):
        response = event["response"]
        if response.get("fromDiskCache") or response.get("fromMemoryCache"):
            cached.append(event["requestId"])

    cdp.on("Network.loadingFinished", finished)
    cdp.on("Network.responseReceived", received)
    cdp.on("Network.requestServedFromCache", lambda e: cached.append(e["requestId"]))
    page.goto(url, wait_until="commit")
    page.wait_for_function(ready, timeout=60_000, polling=20)
    times = page.evaluate(TIMES)
    page.wait_for_load_state("load")
    page.wait_for_timeout(200)  # late loadingFinished events
    cdp.remove_listener("Network.loadingFinished", finished)
    cdp.remove_listener("Network.responseReceived", received)
    return {
        **times,
        "bytes": sum(sizes.values()),
        "requests": len(sizes),
        "cached": len(set(cached)),
    }


def measure(browser, base: str, session: str, pages: dict, runs: int, mbps: float) -> dict:
    results: dict[tuple[str, str], list[dict]] = {}
    for _ in range(runs):
        for name, path in pages.items():
            context = browser.new_context(viewport={"width": 1280, "height": 800})
            context.add_cookies([{"name": "sessionid", "value": session, "url": base}])
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            cdp.send("Network.enable")
            if mbps:
                throughput = mbps * 1e6 / 8
                cdp.send("Network.emulateNetworkConditions", {
                    "offline": False, "latency": 5,
                    "downloadThroughput": throughput, "uploadThroughput": throughput,
                })  # fmt: skip
            results.setdefault((name, "first"), []).append(
                visit(page, cdp, base + path, READY[name])
            )
            page.goto("about:blank")
            results.setdefault((name, "repeat"), []).append(
                visit(page, cdp, base + path, READY[name])
            )
            context.close()
    return results


def report(results: dict, runs: int) -> None:
    print(f"{'page':9s} {'load':6s} {'DOMContentLoaded ms':>21s} {'ready ms':>17s} "
          f"{'transferred':>12s} {'requests':>9s}")  # fmt: skip
    for (name, kind), rows in results.items():
        dcl = [r["dcl"] for r in rows]
        ready = [r["ready"] for r in rows]
        size = statistics.median(r["bytes"] for r in rows)
        requests = rows[-1]["requests"]
        cached = rows[-1]["cached"]
        print(
            f"{name:9s} {kind:6s} {statistics.median(dcl):9.0f} (min {min(dcl):5.0f}) "
            f"{statistics.median(ready):7.0f} (min {min(ready):5.0f}) {size / 1024:9.0f} KiB "
            f"{requests:4d} ({cached} from cache)"
        )
    print(f"median of {runs} runs; each first load in a fresh browser context (empty cache)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--mbps", type=float, default=0, help="throttle to N Mbit/s (0: off)")
    parser.add_argument("--url", default="", help="a running studio (default: start one)")
    args = parser.parse_args()

    setup_django()
    pages, session = make_data()
    server = None
    base = args.url.rstrip("/")
    if not base:
        server, base = start_server()
    from playwright.sync_api import sync_playwright

    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
            )
            try:
                results = measure(browser, base, session, pages, args.runs, args.mbps)
            finally:
                browser.close()
    finally:
        if server:
            server.terminate()
            server.wait(timeout=20)
    network = f"{args.mbps:g} Mbit/s" if args.mbps else "not throttled"
    print(f"{base}, network {network}")
    report(results, args.runs)


if __name__ == "__main__":
    main()
