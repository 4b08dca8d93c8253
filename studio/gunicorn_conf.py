"""gunicorn settings of `make run` (Procfile: `gunicorn -c python:studio.gunicorn_conf ...`).

Job containers reach the studio at `http://studio-host:$STUDIO_PORT`, Docker's host-gateway:
the address of the default bridge on this machine (docs/runner.md). A studio that listens
only on 127.0.0.1 (the default STUDIO_BIND) is out of their reach, and a job's first
`mlflow.log_metric` would hang. So, when STUDIO_BIND is a loopback address, the studio also
listens on the bridge's gateway address: reachable from this machine's containers, not from
the network. Nothing is added when STUDIO_BIND already covers it (0.0.0.0), when
STUDIO_JOB_STUDIO_URL names another address, or when no local Docker engine answers.
"""

from __future__ import annotations

import ipaddress
import os
import socket

LOOPBACK = {"127.0.0.1", "localhost", "::1", "[::1]"}


def bridge_gateway() -> str | None:
    """The default bridge network's gateway address (what host-gateway resolves to), when a
    Docker engine on this machine answers; else None."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        try:
            configs = client.networks.get("bridge").attrs.get("IPAM", {}).get("Config") or []
        finally:
            client.close()
    except Exception:  # no engine, no permission, no bridge: containers cannot call us anyway
        return None
    for config in configs:
        if config.get("Gateway"):
            return config["Gateway"]
        if config.get("Subnet"):  # no Gateway shown: the engine took the subnet's first address
            return str(next(ipaddress.ip_network(config["Subnet"], strict=False).hosts()))
    return None


def is_local_address(address: str) -> bool:
    """True when this machine can listen on `address` (it is one of its interfaces)."""
    try:
        family = socket.AF_INET6 if ipaddress.ip_address(address).version == 6 else socket.AF_INET
    except ValueError:
        return False
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((address, 0))
        except OSError:
            return False
    return True


def binds(environ=os.environ, gateway=bridge_gateway) -> list[str]:
    """The addresses gunicorn listens on: STUDIO_BIND:STUDIO_PORT, plus the bridge gateway
    when STUDIO_BIND is loopback (see the module's docstring)."""
    host = environ.get("STUDIO_BIND") or "127.0.0.1"
    port = environ.get("STUDIO_PORT") or "8000"
    result = [f"{host}:{port}"]
    if host not in LOOPBACK or environ.get("STUDIO_JOB_STUDIO_URL"):
        return result
    address = gateway()
    if address and is_local_address(address):
        result.append(f"[{address}]:{port}" if ":" in address else f"{address}:{port}")
    return result


bind = binds()
workers = 2
threads = 4
accesslog = "-"
