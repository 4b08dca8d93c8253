"""How long a second build of the same environment spec takes: it resolves from the image
already on the engine (tagged by the spec's hash) instead of building.

    .venv/bin/python benchmarks/environment_cache.py [--runs 20] [--requirements "six==1.16.0"]

A pip environment on the base image ($STUDIO_BASE_IMAGE) with the given requirements: the
first `ensure_image` builds it when the engine does not have it yet (timed, and printed as
"built" or "already on the engine"), then N more calls of the same spec are timed. The issue
wants the cached case under 1 s. Needs a Docker engine with the base image; no database (the
build is done without recording an ImageBuild row).
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")

import django  # noqa: E402

django.setup()

from apps.assets import builder  # noqa: E402
from apps.assets.models import EnvironmentVersion  # noqa: E402
from apps.assets.services import environments as envs  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--requirements", default="six==1.16.0")
    args = parser.parse_args()

    fields = envs.clean_spec(workspace=None, pip_requirements=args.requirements + "\n")
    env = EnvironmentVersion(name="bench", version="1", **fields)
    tag = envs.image_tag(env)

    t0 = time.perf_counter()
    if builder.image_exists(tag):
        first = "already on the engine"
    else:
        result = envs.build_image(env, on_line=lambda line: None)
        if not result.ok:
            print(f"build failed at {result.failed_step!r}: {result.error}", file=sys.stderr)
            return 1
        first = "built"
    first_s = time.perf_counter() - t0

    times = []
    for _ in range(args.runs):
        t = time.perf_counter()
        assert envs.ensure_image(env) == tag
        times.append(time.perf_counter() - t)
    median, worst = statistics.median(times), max(times)
    print(f"spec {env.spec_hash[:12]} -> {tag}")
    print(f"first ensure_image: {first} in {first_s:.2f} s")
    print(
        f"second build of the same spec, from cache: median {median * 1000:.1f} ms, "
        f"max {worst * 1000:.1f} ms over {args.runs} runs "
        f"({'under' if worst < 1.0 else 'OVER'} 1 s)"
    )
    return 0 if worst < 1.0 else 1


if __name__ == "__main__":
    sys.exit(main())
