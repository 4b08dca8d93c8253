"""Upload and download speed of the storage layer, and its memory, for each datastore type.

    .venv/bin/python benchmarks/datastore_roundtrip.py [--size-mb 200] [--only local,azure_blob,s3]
        [--azurite-url http://127.0.0.1:10000/devstoreaccount1] [--s3-endpoint URL
         --s3-key ID --s3-secret SECRET]

Writes a file of pseudo-random bytes, streams it into a datastore of each type through
apps/workspaces/storage.py (write_stream) and back (iter_bytes), checks the sha256 of what
came back, and prints MB/s each way, how far resident memory rose during each transfer, and
the process's peak RSS. Without --azurite-url / --s3-endpoint it starts Azurite (from
node_modules, `npm ci`) and moto_server itself, as the tests do. Note: Azurite and moto are
emulators; their speed, not the studio's, bounds the Azure and S3 figures.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import random
import resource
import sys
import tempfile
import threading
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CHUNK = 8 * 2**20


def rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def timed(action) -> tuple[object, float, int]:
    """(result, seconds, resident memory growth in bytes) of running `action`."""
    baseline = peak = rss()
    done = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not done.wait(0.005):
            peak = max(peak, rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    start = time.perf_counter()
    try:
        result = action()
    finally:
        elapsed = time.perf_counter() - start
        done.set()
        sampler.join()
    return result, elapsed, max(peak, rss()) - baseline


def make_file(folder: Path, size: int) -> tuple[Path, str]:
    path = folder / "roundtrip.bin"
    rng, digest = random.Random(7), hashlib.sha256()
    with path.open("wb") as out:
        left = size
        while left:
            block = rng.randbytes(min(CHUNK, left))
            digest.update(block)
            out.write(block)
            left -= len(block)
    return path, digest.hexdigest()


def stores(args, folder: Path, stop: list) -> dict:
    """A store of each asked type, starting the servers that were not given."""
    from apps.workspaces import storage
    from tests import storage_servers as servers

    workspace = SimpleNamespace(id=uuid.uuid4(), name="bench")
    out = {}
    if "local" in args.only:
        out["local"] = storage.build_store(
            workspace=workspace,
            name="local_bench",
            type="local",
            config={"path": f"workspaces/{workspace.id}/bench", "relative_to": "STUDIO_HOME"},
            credentials={},
        )
    if "azure_blob" in args.only:
        if args.azurite_url:
            azurite = servers.AzuriteServer(account_url=args.azurite_url)
        else:
            proc, azurite = servers.start_azurite(folder / "azurite")
            stop.append(proc.kill)
        out["azure_blob"] = storage.build_store(
            workspace=workspace,
            name="blob_bench",
            type="azure_blob",
            config={
                "account_name": azurite.account_name,
                "container_name": servers.make_container(azurite),
                "endpoint": azurite.account_url,
            },
            credentials={"account_key": azurite.account_key},
        )
    if "s3" in args.only:
        if args.s3_endpoint:
            s3 = servers.S3Server(args.s3_endpoint, args.s3_key, args.s3_secret)
        else:
            proc, s3 = servers.start_moto(folder / "moto")
            stop.append(proc.terminate)
        out["s3"] = storage.build_store(
            workspace=workspace,
            name="s3_bench",
            type="s3",
            config={"bucket": servers.make_bucket(s3), "endpoint_url": s3.endpoint_url},
            credentials={
                "access_key_id": s3.access_key_id,
                "secret_access_key": s3.secret_access_key,
            },
        )
    for store in out.values():
        store.check()
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--size-mb", type=int, default=200)
    parser.add_argument("--only", default="local,azure_blob,s3")
    parser.add_argument("--azurite-url", help="an Azurite (or account) blob URL to use")
    parser.add_argument("--s3-endpoint", help="an S3 endpoint to use (with --s3-key, --s3-secret)")
    parser.add_argument("--s3-key", default="")
    parser.add_argument("--s3-secret", default="")
    args = parser.parse_args()
    args.only = set(args.only.split(","))
    size = args.size_mb * 2**20

    folder = Path(tempfile.mkdtemp(prefix="datastore-bench-"))
    for sub in ("home", "azurite", "moto"):
        (folder / sub).mkdir()
    os.environ.setdefault("STUDIO_HOME", str(folder / "home"))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
    import django

    django.setup()
    path, expected = make_file(folder, size)
    stop: list = []
    try:
        print(f"{args.size_mb} MB file; 8 MiB blocks; MB = 2**20 bytes")
        print(f"{'type':<11} {'up MB/s':>8} {'down MB/s':>10} {'up +RSS':>9} {'down +RSS':>10}")
        for kind, store in stores(args, folder, stop).items():
            with path.open("rb") as source:
                _, up_s, up_rss = timed(
                    lambda s=store, f=source: s.write_stream(
                        "bench/roundtrip.bin", f, size_hint=size
                    )
                )

            def download(s=store) -> str:
                digest = hashlib.sha256()
                for chunk in s.iter_bytes("bench/roundtrip.bin"):
                    digest.update(chunk)
                return digest.hexdigest()

            digest, down_s, down_rss = timed(download)
            if digest != expected:
                print(f"{kind}: the file came back different!", file=sys.stderr)
                return 1
            store.delete("bench/roundtrip.bin")
            print(
                f"{kind:<11} {args.size_mb / up_s:>8.1f} {args.size_mb / down_s:>10.1f} "
                f"{up_rss / 2**20:>7.1f}MB {down_rss / 2**20:>8.1f}MB"
            )
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of the whole run: {peak:.0f} MB (file size {args.size_mb} MB)")
    finally:
        for action in stop:
            action()
    return 0


if __name__ == "__main__":
    sys.exit(main())
