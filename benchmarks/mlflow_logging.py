"""Benchmark: metric logging through the stock MLflow client, studio vs `mlflow server`.

    .venv/bin/python benchmarks/mlflow_logging.py            # studio on SQLite vs mlflow
    DATABASE_URL=postgres://... .venv/bin/python benchmarks/mlflow_logging.py   # + PostgreSQL

The same client script (mlflow-skinny 3.17.2 from the studio's .venv) runs against:
(a) `mlflow server` 3.17.2 with a SQLite backend store, 4 workers; the full `mlflow` package
    is installed on first use into benchmarks/.venv-mlflow (kept for later runs);
(b) the studio served by gunicorn (4 sync workers) on its default SQLite database, in a
    temporary STUDIO_HOME; this is the fair comparison (both on SQLite);
(c) when DATABASE_URL points at PostgreSQL, the studio on that database too (a scratch
    database: it is migrated and gets a benchmark user and workspace of a unique name).

The script makes 300 synchronous `mlflow.log_metric` calls, then 20 `MlflowClient().log_batch`
calls of 1,000 metrics each (after 40 untimed calls of each kind, so that every worker of
either server has loaded its code), and prints calls/s and points/s for each server, and the ratio.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"
MLFLOW_VENV = ROOT / "benchmarks" / ".venv-mlflow"
MLFLOW_VERSION = "3.17.2"
WORKERS = 4

WARMUP = 12  # untimed calls of each kind per warm-up thread, 8 threads at once
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "2"))  # the servers take turns; best round kept

CLIENT = r"""
import json, time
from concurrent.futures import ThreadPoolExecutor
import mlflow
from mlflow import MlflowClient
from mlflow.entities import Metric

WARMUP = __WARMUP__

mlflow.set_experiment("bench-" + str(time.time_ns()))
with mlflow.start_run() as run:
    client = MlflowClient()

    def warm(thread):
        for i in range(WARMUP):
            client.log_metric(run.info.run_id, f"warmup{thread}", 0.0, step=i)
            client.log_batch(run.info.run_id, metrics=[Metric(f"warmup{thread}", 0.0, 0, i)])

    # Warm-up, not timed: concurrent calls reach every worker of the server, so each has
    # loaded its code before the clock starts (a studio worker imports mlflow on its
    # first MLflow request; mlflow's workers import at start).
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(warm, range(8)))
    t0 = time.perf_counter()
    for i in range(300):
        mlflow.log_metric("loss", 1.0 / (i + 1), step=i)
    single = time.perf_counter() - t0
    now = int(time.time() * 1000)
    batches = [
        [Metric(f"m{k % 10}", float(k), now + b, b * 100 + k // 10) for k in range(1000)]
        for b in range(20)
    ]
    t0 = time.perf_counter()
    for batch in batches:
        client.log_batch(run.info.run_id, metrics=batch)
    batch_time = time.perf_counter() - t0
    points = len(client.get_metric_history(run.info.run_id, "m0"))
print(json.dumps({"single_s": single, "batch_s": batch_time, "m0_points": points}))
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:  # noqa: BLE001 - not up yet
            time.sleep(0.3)
    raise SystemExit(f"server at {url} did not come up in {timeout}s")


def stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()


def run_client(env: dict[str, str], workdir: Path) -> dict:
    script = workdir / "client.py"
    script.write_text(CLIENT.replace("__WARMUP__", str(WARMUP)))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
    environment.update(env, MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_HTTP_REQUEST_MAX_RETRIES="0")
    out = subprocess.run(
        [str(VENV_PYTHON), str(script)],
        env=environment,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if out.returncode:
        raise SystemExit(f"client failed:\n{out.stdout}\n{out.stderr}")
    result = json.loads(out.stdout.strip().splitlines()[-1])
    assert result["m0_points"] == 2000, result
    return result


def ensure_mlflow_venv() -> Path:
    mlflow_bin = MLFLOW_VENV / "bin" / "mlflow"
    if not mlflow_bin.exists():
        print(f"installing mlflow=={MLFLOW_VERSION} into {MLFLOW_VENV} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(MLFLOW_VENV)], check=True)
        subprocess.run(
            [str(MLFLOW_VENV / "bin" / "pip"), "install", "-q", f"mlflow=={MLFLOW_VERSION}"],
            check=True,
        )
    return mlflow_bin


def start_mlflow(workdir: Path) -> tuple[subprocess.Popen, dict]:
    mlflow_bin = ensure_mlflow_venv()
    port = free_port()
    data = workdir / "mlflow"
    data.mkdir()
    proc = subprocess.Popen(
        [
            str(mlflow_bin),
            "server",
            "--backend-store-uri",
            f"sqlite:///{data / 'mlflow.db'}",
            "--artifacts-destination",
            str(data / "artifacts"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            str(WORKERS),
        ],  # fmt: skip
        cwd=data,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, "MLFLOW_DISABLE_TELEMETRY": "true"},
    )
    wait_for(f"http://127.0.0.1:{port}/health")
    return proc, {"MLFLOW_TRACKING_URI": f"http://127.0.0.1:{port}"}


SETUP = """
from apps.workspaces import services
from django.contrib.auth import get_user_model
user = get_user_model().objects.create_user("{user}", password="{user}-password-x")
services.workspace_create(actor=user, name="{ws}")
_, raw = services.token_create(actor=user, name="bench")
print(raw)
"""


def start_studio(workdir: Path, database_url: str | None) -> tuple[subprocess.Popen, dict]:
    home = workdir / f"studio-{secrets.token_hex(3)}"
    home.mkdir()
    env = {
        **{k: v for k, v in os.environ.items() if k != "DATABASE_URL"},
        "STUDIO_HOME": str(home),
        "DEBUG": "false",
        "STUDIO_LOG_LEVEL": "WARNING",
    }
    if database_url:
        env["DATABASE_URL"] = database_url
    manage = [str(VENV_PYTHON), str(ROOT / "manage.py")]
    subprocess.run([*manage, "migrate", "-v", "0"], env=env, cwd=ROOT, check=True)
    name = f"bench-{secrets.token_hex(4)}"
    setup = SETUP.format(user=name, ws=name)
    token = subprocess.run(
        [*manage, "shell", "-c", setup], env=env, cwd=ROOT, check=True, capture_output=True,
        text=True,
    ).stdout.strip().splitlines()[-1]  # fmt: skip
    port = free_port()
    proc = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "gunicorn"),
            "studio.wsgi",
            "-w",
            str(WORKERS),
            "-b",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],  # fmt: skip
        env=env,
        cwd=ROOT,
    )
    wait_for(f"http://127.0.0.1:{port}/healthz")
    uri = f"http://127.0.0.1:{port}/mlflow/{name}"
    return proc, {"MLFLOW_TRACKING_URI": uri, "MLFLOW_TRACKING_TOKEN": token}


MLFLOW = f"mlflow server {MLFLOW_VERSION} (SQLite)"


def figures(result: dict) -> tuple[float, float]:
    return 300 / result["single_s"], 20_000 / result["batch_s"]


def main() -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # stop the servers on the way out
    database_url = os.environ.get("DATABASE_URL", "")
    workdir = Path(tempfile.mkdtemp(prefix="mlflow-bench-"))
    servers: dict[str, tuple[subprocess.Popen, dict]] = {}
    best: dict[str, tuple[float, float]] = {}
    try:
        servers[MLFLOW] = start_mlflow(workdir)
        servers["studio (SQLite)"] = start_studio(workdir, None)
        if database_url.startswith(("postgres://", "postgresql://")):
            servers["studio (PostgreSQL)"] = start_studio(workdir, database_url)
        for round_no in range(1, ROUNDS + 1):
            for name, (_proc, env) in servers.items():
                calls, points = figures(run_client(env, workdir))
                print(f"round {round_no} {name:30} {calls:8.1f} calls/s {points:8.0f} points/s")
                old = best.get(name, (0.0, 0.0))
                best[name] = (max(old[0], calls), max(old[1], points))
    finally:
        for proc, _env in servers.values():
            stop(proc)
        shutil.rmtree(workdir, ignore_errors=True)
    base_calls, base_points = best[MLFLOW]
    print(f"\nbest of {ROUNDS} rounds")
    print(f"{'server':32} {'log_metric calls/s':>19} {'log_batch points/s':>19}  vs mlflow")
    for name, (calls, points) in best.items():
        ratio = f"x{calls / base_calls:.1f} / x{points / base_points:.1f}"
        print(f"{name:32} {calls:19.1f} {points:19.0f}  {ratio}")


if __name__ == "__main__":
    main()
