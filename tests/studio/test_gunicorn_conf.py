"""`make run`'s web server is reachable from job containers (MLflow tracking, logs).

With the default STUDIO_BIND=127.0.0.1 the studio used to listen on loopback only and refuse
the Host `studio-host`: a job's first `mlflow.log_metric` hung and its Metrics tab stayed
empty. The Procfile's gunicorn settings (studio/gunicorn_conf.py) also listen on the Docker
bridge's gateway, and `studio-host` is an allowed host.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from django.conf import settings

from studio import gunicorn_conf
from tests.conftest import require_service

REPO = Path(__file__).resolve().parents[2]


def test_loopback_bind_adds_the_bridge_gateway():
    binds = gunicorn_conf.binds({"STUDIO_PORT": "8123"}, gateway=lambda: "127.0.0.2")
    assert binds == ["127.0.0.1:8123", "127.0.0.2:8123"]


@pytest.mark.parametrize(
    "environ, gateway",
    [
        ({"STUDIO_BIND": "0.0.0.0"}, "127.0.0.2"),  # already every address
        ({"STUDIO_JOB_STUDIO_URL": "http://10.0.0.5:8000"}, "127.0.0.2"),  # told where
        ({}, None),  # no Docker engine
        ({}, "203.0.113.7"),  # an engine elsewhere: not an address of this machine
    ],
)
def test_nothing_added_when_not_needed_or_not_possible(environ, gateway):
    assert gunicorn_conf.binds({**environ, "STUDIO_PORT": "8123"}, gateway=lambda: gateway) == [
        f"{environ.get('STUDIO_BIND', '127.0.0.1')}:8123"
    ]


def test_procfile_uses_the_settings_module():
    web = next(
        line for line in (REPO / "Procfile").read_text().splitlines() if line.startswith("web:")
    )
    assert "-c python:studio.gunicorn_conf" in web
    assert "--bind" not in web  # a --bind would replace the module's list


def test_studio_host_is_an_allowed_host(db, client):
    assert "studio-host" in settings.ALLOWED_HOSTS
    assert client.get("/healthz", HTTP_HOST="studio-host:8000").status_code == 200


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.mark.docker
def test_a_container_reaches_make_runs_web_server_as_studio_host(tmp_path):
    try:
        import docker

        client = docker.from_env()
        client.ping()
    except Exception as exc:
        require_service("Docker", False, str(exc))
    gateway = gunicorn_conf.bridge_gateway()
    assert gateway, "the default bridge network has a gateway"
    port = _free_port()
    env = {**os.environ, "STUDIO_PORT": str(port), "STUDIO_HOME": str(tmp_path)}
    for name in ("STUDIO_BIND", "STUDIO_JOB_STUDIO_URL", "ALLOWED_HOSTS"):
        env.pop(name, None)
    gunicorn = Path(sys.executable).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "studio.wsgi:application", "-c", "python:studio.gunicorn_conf"],
        cwd=REPO,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:  # any HTTP answer is the server answering (/healthz may say 503 here)
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                    here = r.status
                    break
            except urllib.error.HTTPError as answered:
                here = answered.code
                break
            except OSError:
                assert server.poll() is None, server.stderr.read().decode()[-2000:]
                assert time.monotonic() < deadline, "gunicorn did not answer within 30 s"
                time.sleep(0.3)
        script = (
            "import urllib.request, urllib.error\n"
            "try:\n"
            f"    print(urllib.request.urlopen('http://studio-host:{port}/healthz', timeout=10).status)\n"
            "except urllib.error.HTTPError as e:\n"
            "    print(e.code)\n"
        )
        output = client.containers.run(
            settings.STUDIO_BASE_IMAGE,
            ["python3", "-c", script],
            extra_hosts={"studio-host": "host-gateway"},
            remove=True,
        )
        assert output.decode().strip() == str(here)  # the same server answered the container
    finally:
        server.terminate()
        server.wait(timeout=10)
