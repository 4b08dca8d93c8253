"""Environments: creating them (an image; a base image plus a conda file or pip requirements;
a Docker build context), resolving what a job or component names as its environment, and
making sure the image exists on this machine's Docker engine (building it when missing).

The spec of an environment is normalised (sorted packages, whitespace, the Dockerfile's text
and the build context's manifest hash) and hashed; the hash names the image
(`studio-env:<hash>`), so the same spec builds once per engine and later uses find it on the
engine. A rebuild happens only when forced.

There is no conda in the base image: a conda file's pip dependencies are installed with pip
(plain conda packages are installed from PyPI under the same name; packages that exist only
on conda are refused, naming the field).
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import re
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.workspaces import permissions
from apps.workspaces.models import Workspace
from apps.workspaces.permissions import Action
from studio.errors import Conflict, DomainError, NotFound, ValidationError

from .. import builder, curated, references
from ..models import CodeSnapshot, EnvironmentVersion, ImageBuild, ImageBuildLogLine, Kind
from . import code as code_services
from .versions import version_create

ANONYMOUS_NAME = "CliV2AnonymousEnvironment"
Source = EnvironmentVersion.Source

INLINE_KEYS = {
    "image",
    "conda_file",
    "pip_requirements",
    "build",
    "os_type",
    "inference_config",
    "name",
    "version",
    "description",
    "tags",
}

# Conda packages that pip cannot install (compilers, CUDA, system libraries, R): refused.
CONDA_ONLY = {
    "cudatoolkit",
    "cudnn",
    "cuda",
    "cuda-toolkit",
    "cuda-nvcc",
    "nccl",
    "mkl",
    "mkl-service",
    "mkl_fft",
    "mkl_random",
    "intel-openmp",
    "openmpi",
    "mpich",
    "libgcc",
    "libgcc-ng",
    "libstdcxx-ng",
    "gcc",
    "gxx",
    "gxx_linux-64",
    "gcc_linux-64",
    "make",
    "nodejs",
    "openjdk",
    "r-base",
    "r-essentials",
    "blas",
    "openblas",
    "libblas",
    "liblapack",
    "ffmpeg",
    "git",
    "curl",
    "openssl",
    "ca-certificates",
    "zlib",
    "libffi",
    "sqlite",
    "tk",
    "xz",
    "readline",
    "ncurses",
}
# Conda names whose PyPI name differs.
CONDA_TO_PIP = {"pytorch": "torch", "py-xgboost": "xgboost", "pytorch-cpu": "torch"}


class ImageUnavailable(DomainError):
    """The environment's image is not on this engine and cannot be built here."""

    code = "image_unavailable"


class BuildFailed(DomainError):
    """Building the environment's image failed (its build row tells the step)."""

    code = "build_failed"

    def __init__(self, message: str, *, build: ImageBuild | None = None):
        super().__init__(message)
        self.build = build


# --- normalising a spec ------------------------------------------------------------------------


def _norm_line(line: str) -> str:
    return " ".join(line.strip().split())


def clean_requirements(text: Any, field: str) -> list[str]:
    """A requirements file's requirement lines, normalised and sorted (comments and blank
    lines dropped). Lines that need files the build does not have are refused."""
    if text is None:
        return []
    if isinstance(text, list):
        text = "\n".join(str(x) for x in text)
    if not isinstance(text, str):
        raise ValidationError.for_field(field, "must be the text of a requirements file.")
    out = []
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _norm_line(raw.split(" #", 1)[0] if not raw.lstrip().startswith("#") else "")
        if not line:
            continue
        if re.match(r"^(-r|-c|--requirement|--constraint|-e|--editable)\b", line):
            raise ValidationError.for_field(
                field,
                f"line {number}: '{line}' needs another file, which the build does not have: "
                "list the packages themselves.",
            )
        if line.startswith((".", "/", "file:")):
            raise ValidationError.for_field(
                field, f"line {number}: '{line}' is a local path; use a Docker build context."
            )
        out.append(line)
    return sorted(set(out), key=str.lower)


def _conda_to_pip(dep: str, field: str) -> str:
    spec = dep.strip()
    if "::" in spec:  # channel::package
        spec = spec.split("::", 1)[1]
    m = re.match(r"^([A-Za-z0-9_.\-]+)\s*(.*)$", spec)
    if not m:
        raise ValidationError.for_field(field, f"'{dep}' is not a conda package specification.")
    name, rest = m[1], m[2].strip()
    if name.lower() in CONDA_ONLY or name.lower().startswith(("r-", "lib")):
        raise ValidationError.for_field(
            field,
            f"'{name}' is a conda-only package and there is no conda in the base image: "
            "install it in a Docker build context (build.path) instead.",
        )
    name = CONDA_TO_PIP.get(name.lower(), name)
    if not rest:
        return name
    if rest.startswith("=") and not rest.startswith("=="):
        version = rest[1:].split("=", 1)[0]  # drop a build string (=1.2.3=py38h...)
        return f"{name}=={version}"
    if re.match(r"^[0-9]", rest):  # "numpy 1.21"
        return f"{name}=={rest.split()[0]}"
    return f"{name}{rest.split('=', 2)[0] if rest.count('=') > 2 else rest}"


def parse_conda(value: Any, field: str = "conda_file") -> tuple[str, str, list[str]]:
    """A conda file (YAML text or a mapping) as (normalised text, python version, pip
    requirements)."""
    if isinstance(value, str):
        try:
            data = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            raise ValidationError.for_field(field, f"is not valid YAML: {exc}") from None
    else:
        data = value
    if isinstance(data, str) and "\n" not in value.strip():
        raise ValidationError.for_field(
            field,
            f"'{value.strip()}' looks like a file name: send the conda file's text or a "
            "mapping (the CLI reads the file next to the YAML).",
        )
    if not isinstance(data, dict):
        raise ValidationError.for_field(field, "must be a conda environment file (a mapping).")
    deps = data.get("dependencies") or []
    if not isinstance(deps, list):
        raise ValidationError.for_field(f"{field}.dependencies", "must be a list.")
    python = ""
    pip: list[str] = []
    for i, dep in enumerate(deps):
        where = f"{field}.dependencies[{i}]"
        if isinstance(dep, dict):
            if set(dep) != {"pip"} or not isinstance(dep["pip"], list):
                raise ValidationError.for_field(
                    where, "the only mapping allowed here is 'pip:' with a list of packages."
                )
            pip.extend(clean_requirements(dep["pip"], f"{where}.pip"))
            continue
        if not isinstance(dep, (str, int, float)):
            raise ValidationError.for_field(where, "must be a package name or 'pip:'.")
        dep = str(dep).strip()
        name = re.split(r"[=<>!~ ]", dep.split("::")[-1], maxsplit=1)[0].lower()
        if name == "python":
            m = re.search(r"(\d+)(?:\.(\d+))?", dep)
            if not m or m[1] != "3":
                raise ValidationError.for_field(
                    where, f"'{dep}': only Python 3 is available (the image has Python 3.11)."
                )
            python = m[1] + (f".{m[2]}" if m[2] else "")
        elif name == "pip":
            continue
        else:
            pip.append(_conda_to_pip(dep, where))
    text = yaml.safe_dump(data, sort_keys=False) if not isinstance(value, str) else value
    return text, python, sorted(set(pip), key=str.lower)


def spec_of(row_fields: dict, *, dockerfile: str = "", context_hash: str = "") -> dict:
    """The normalised spec that names the image."""
    source = row_fields["source"]
    if source == Source.IMAGE:
        return {"source": source, "image": row_fields["image"].strip()}
    if source == Source.DOCKER:
        text = "\n".join(_norm_line(line) for line in dockerfile.splitlines() if line.strip())
        return {
            "source": source,
            "dockerfile_path": row_fields.get("dockerfile_path") or "Dockerfile",
            "dockerfile": text,
            "context": context_hash,
        }
    if source == Source.CONDA:
        _, python, packages = parse_conda(row_fields["conda_file"])
        return {
            "source": "packages",
            "image": curated.effective_base_image(row_fields["image"]),
            "python": python,
            "packages": packages,
        }
    return {
        "source": "packages",
        "image": curated.effective_base_image(row_fields["image"]),
        "python": "",
        "packages": clean_requirements(row_fields["pip_requirements"], "pip_requirements"),
    }


def hash_spec(spec: dict) -> str:
    return hashlib.sha256(
        json.dumps(spec, sort_keys=True, separators=(",", ":")).encode()
    ).hexdigest()


def _dockerfile_of(snapshot: CodeSnapshot, path: str, field: str) -> str:
    rel = (path or "Dockerfile").strip().lstrip("./") or "Dockerfile"
    if rel not in {f["path"] for f in snapshot.manifest}:
        raise ValidationError.for_field(
            field, f"the build context has no '{rel}' (build.dockerfile_path names it)."
        )
    with tempfile.TemporaryDirectory() as tmp:
        code_services.snapshot_extract(snapshot, Path(tmp))
        return (Path(tmp) / rel).read_text(errors="replace")


def clean_spec(
    *,
    workspace: Workspace,
    image: Any = "",
    conda_file: Any = None,
    pip_requirements: Any = None,
    build_context: CodeSnapshot | None = None,
    dockerfile_path: Any = "",
    os_type: Any = "linux",
    inference_config: Any = None,
    prefix: str = "",
) -> dict:
    """Check an environment's fields; return the model fields with `source` and `spec_hash`.
    Errors name the field (with `prefix`, e.g. "environment.")."""
    if image is not None and not isinstance(image, str):
        raise ValidationError.for_field(f"{prefix}image", "must be a string.")
    image = (image or "").strip()
    if os_type not in (None, "", "linux", "Linux"):
        raise ValidationError.for_field(
            f"{prefix}os_type", f"'{os_type}': only linux environments run here."
        )
    if inference_config is not None and not isinstance(inference_config, dict):
        raise ValidationError.for_field(f"{prefix}inference_config", "must be a mapping.")
    has_conda = conda_file not in (None, "", {})
    has_pip = pip_requirements not in (None, "", [])
    if build_context is not None:
        if image or has_conda or has_pip:
            raise ValidationError.for_field(
                f"{prefix}build",
                "a build context cannot be combined with image, conda_file or pip_requirements.",
            )
        dockerfile_path = (dockerfile_path or "Dockerfile").strip()
        dockerfile = _dockerfile_of(
            build_context, dockerfile_path, f"{prefix}build.dockerfile_path"
        )
        fields = {
            "source": Source.DOCKER,
            "build_context": build_context,
            "dockerfile_path": dockerfile_path,
        }
        spec = spec_of(fields, dockerfile=dockerfile, context_hash=build_context.content_hash)
    else:
        if not image and not (has_conda or has_pip):
            raise ValidationError.for_field(
                f"{prefix}image", "give an image or a build context (build.path)."
            )
        if has_conda and has_pip:
            raise ValidationError.for_field(
                f"{prefix}pip_requirements", "give either conda_file or pip_requirements."
            )
        if has_conda:
            text, _, _ = parse_conda(conda_file, f"{prefix}conda_file")
            fields = {"source": Source.CONDA, "image": image, "conda_file": text}
        elif has_pip:
            reqs = clean_requirements(pip_requirements, f"{prefix}pip_requirements")
            if not reqs:
                raise ValidationError.for_field(f"{prefix}pip_requirements", "lists no packages.")
            text = pip_requirements if isinstance(pip_requirements, str) else "\n".join(reqs)
            fields = {"source": Source.PIP, "image": image, "pip_requirements": text}
        else:
            fields = {"source": Source.IMAGE, "image": image}
        spec = spec_of(fields)
        if fields["source"] != Source.IMAGE and not fields["image"]:
            fields["image"] = spec["image"]
    fields["os_type"] = "linux"
    fields["inference_config"] = inference_config or {}
    fields["spec_hash"] = hash_spec(spec)
    return fields


# --- creating ----------------------------------------------------------------------------------


@transaction.atomic
def environment_create(
    *,
    actor,
    workspace: Workspace,
    name: Any,
    version: Any = None,
    description: Any = "",
    tags: Any = None,
    image: Any = "",
    conda_file: Any = None,
    pip_requirements: Any = None,
    build_context: CodeSnapshot | None = None,
    dockerfile_path: Any = "",
    os_type: Any = "linux",
    inference_config: Any = None,
) -> EnvironmentVersion:
    """`studio environment create`: a named environment version (nothing is built yet: the
    image is built on first use, or when a build is requested)."""
    permissions.require(actor, Action.ASSET_CREATE, workspace)
    fields = clean_spec(
        workspace=workspace,
        image=image,
        conda_file=conda_file,
        pip_requirements=pip_requirements,
        build_context=build_context,
        dockerfile_path=dockerfile_path,
        os_type=os_type,
        inference_config=inference_config,
    )
    return version_create(
        actor=actor,
        workspace=workspace,
        kind=Kind.ENVIRONMENT,
        name=name,
        version=version,
        description=description,
        tags=tags,
        fields=fields,
    )


def refuse_conda_as_spec(data: dict) -> None:
    """The SDK refuses a conda file given as the environment YAML itself (-f): so do we."""
    if isinstance(data, dict) and ("dependencies" in data or "channels" in data):
        key = "dependencies" if "dependencies" in data else "channels"
        raise ValidationError.for_field(
            key,
            "this looks like a conda file, not an environment YAML: write an environment YAML "
            "with 'image:' and 'conda_file: <this file>' (or pass --conda-file and --image).",
        )


# --- resolving ---------------------------------------------------------------------------------


def _curated_row(workspace: Workspace, entry: curated.Curated) -> EnvironmentVersion:
    """The curated environment's row in this workspace, created on first use."""
    row = EnvironmentVersion.objects.filter(
        workspace=workspace, name=entry.name, version=entry.version
    ).first()
    if row is not None:
        return row
    fields = clean_spec(workspace=workspace, **entry.fields())
    fields["is_curated"] = True
    try:
        with transaction.atomic():
            return version_create(
                actor=None,
                workspace=workspace,
                kind=Kind.ENVIRONMENT,
                name=entry.name,
                version=entry.version,
                description=entry.description,
                tags={"curated": "true"},
                fields=fields,
            )
    except Conflict:  # created at the same moment by another request
        return EnvironmentVersion.objects.get(
            workspace=workspace, name=entry.name, version=entry.version
        )


def _anonymous_row(*, actor, workspace: Workspace, value: dict, field: str) -> EnvironmentVersion:
    unknown = sorted(set(value) - INLINE_KEYS)
    if unknown:
        raise ValidationError.for_field(
            f"{field}.{unknown[0]}",
            "is not an environment field (image, conda_file, build, os_type, inference_config).",
        )
    build = value.get("build")
    snapshot = None
    dockerfile_path = ""
    if build is not None:
        if not isinstance(build, dict):
            raise ValidationError.for_field(f"{field}.build", "must be a mapping.")
        snapshot = build.get("snapshot") or build.get("path")
        if isinstance(snapshot, str):
            snapshot = CodeSnapshot.objects.filter(workspace=workspace, pk=_uuid(snapshot)).first()
        if not isinstance(snapshot, CodeSnapshot) or snapshot.workspace_id != workspace.pk:
            raise ValidationError.for_field(
                f"{field}.build.path", "the build context must be uploaded as a code snapshot."
            )
        dockerfile_path = build.get("dockerfile_path") or "Dockerfile"
    fields = clean_spec(
        workspace=workspace,
        image=value.get("image"),
        conda_file=value.get("conda_file"),
        pip_requirements=value.get("pip_requirements"),
        build_context=snapshot,
        dockerfile_path=dockerfile_path,
        os_type=value.get("os_type"),
        inference_config=value.get("inference_config"),
        prefix=f"{field}.",
    )
    fields["is_anonymous"] = True
    version = fields["spec_hash"]
    row = EnvironmentVersion.objects.filter(
        workspace=workspace, name=ANONYMOUS_NAME, version=version
    ).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return version_create(
                actor=None,
                workspace=workspace,
                kind=Kind.ENVIRONMENT,
                name=ANONYMOUS_NAME,
                version=version,
                fields=fields,
            )
    except Conflict:
        return EnvironmentVersion.objects.get(
            workspace=workspace, name=ANONYMOUS_NAME, version=version
        )


def _uuid(text: str):
    import uuid

    try:
        return uuid.UUID(str(text))
    except ValueError:
        return None


def environment_resolve(
    *, actor, workspace: Workspace, value: Any, field: str = "environment"
) -> EnvironmentVersion:
    """The environment version a job or component names: a reference (`azureml:name:version`,
    `name@latest`, an Azure curated name or registry URI through the alias table) or an
    inline mapping (an anonymous environment, one row per spec hash). Errors name `field`."""
    from .. import selectors

    if actor is not None:
        permissions.require(actor, Action.ASSET_VIEW, workspace)
    if isinstance(value, EnvironmentVersion):
        return value
    if isinstance(value, dict):
        return _anonymous_row(actor=actor, workspace=workspace, value=value, field=field)
    if not isinstance(value, str) or not value.strip():
        raise ValidationError.for_field(
            field, "must be an environment reference (azureml:<name>:<version>) or a mapping."
        )
    try:
        ref = references.parse(value)
    except references.ReferenceError_ as exc:
        raise ValidationError.for_field(field, str(exc)) from None
    if ref.registry is not None:
        if ref.registry.lower() != curated.CURATED_REGISTRY:
            raise ValidationError.for_field(
                field,
                f"registry '{ref.registry}' is not available here; only the curated "
                f"environments of the 'azureml' registry resolve ({', '.join(curated.names())}).",
            )
        entry = curated.lookup(ref.name, registry=True)
        if entry is None:
            raise ValidationError.for_field(
                field,
                f"'{ref.name}' has no counterpart among the studio's curated environments "
                f"({', '.join(curated.names())}); see docs/environments.md.",
            )
        return _curated_row(workspace, entry)
    exists = EnvironmentVersion.objects.filter(
        workspace=workspace, name=ref.name, is_curated=False
    ).exists()
    entry = None if exists else curated.lookup(ref.name)
    if entry is not None:
        return _curated_row(workspace, entry)
    if not exists and ref.name.lower().startswith("azureml-"):
        raise ValidationError.for_field(
            field,
            f"'{ref.name}' is an Azure curated environment with no counterpart here "
            f"({', '.join(curated.names())}); see docs/environments.md.",
        )
    return selectors.resolve_parsed(
        actor=actor, workspace=workspace, kind=Kind.ENVIRONMENT, ref=ref, field=field
    )


# --- images and builds -------------------------------------------------------------------------


def image_tag(env: EnvironmentVersion) -> str:
    if env.source == Source.IMAGE:
        return env.image
    return builder.tag_for(env.spec_hash)


def _append(build: ImageBuild, text: str) -> None:
    """One line of the build's log (numbered from 1 without gaps)."""
    ImageBuild.objects.filter(pk=build.pk).update(log_seq=F("log_seq") + 1)
    build.log_seq += 1
    ImageBuildLogLine.objects.create(build=build, seq=build.log_seq, text=text[:10000])


def _lock_path(spec_hash: str) -> Path:
    # Machine-wide (an image exists per engine, and an engine per machine), not per STUDIO_HOME.
    folder = Path(tempfile.gettempdir()) / "studio-build-locks"
    folder.mkdir(parents=True, exist_ok=True)
    return folder / f"build-{spec_hash}.lock"


def _context(env: EnvironmentVersion, folder: Path) -> str:
    """Fill `folder` with the build context; return the Dockerfile's path inside it."""
    if env.source == Source.DOCKER:
        code_services.snapshot_extract(env.build_context, folder)
        path = env.dockerfile_path or "Dockerfile"
        return builder.prepare_context(
            folder, dockerfile=(folder / path).read_text(errors="replace"), dockerfile_path=path
        )
    if env.source == Source.CONDA:
        _, python, packages = parse_conda(env.conda_file)
    else:
        python, packages = "", clean_requirements(env.pip_requirements, "pip_requirements")
    dockerfile = builder.packages_dockerfile(
        base_image=curated.effective_base_image(env.image), python=python
    )
    return builder.prepare_context(
        folder, dockerfile=dockerfile, files={"requirements.txt": "\n".join(packages) + "\n"}
    )


def build_image(env: EnvironmentVersion, *, on_line: Callable[[str], None]) -> builder.BuildResult:
    """Build the environment's image on this engine, no rows kept (run_build records them)."""
    try:
        with tempfile.TemporaryDirectory(prefix="studio-build-") as tmp:
            dockerfile = _context(env, Path(tmp))
            return builder.build(
                Path(tmp),
                tag=image_tag(env),
                dockerfile=dockerfile,
                spec_hash=env.spec_hash,
                on_line=on_line,
            )
    except (OSError, builder.EngineUnavailable, ValidationError) as exc:
        on_line(f"error: {exc}")
        return builder.BuildResult(ok=False, error=str(exc))


def run_build(build: ImageBuild, *, log: Callable[[str], None] | None = None) -> ImageBuild:
    """Build the image of `build` on this engine (internal: the worker and ensure_image),
    one build per spec at a time on this machine; the row tells how it went. The row beats
    from here on, while it waits for the lock of its spec too (the reaper fails a Queued or
    Running build whose worker went silent); a build running past
    STUDIO_BUILD_TIMEOUT_SECONDS is stopped and fails, which frees the lock."""
    with builder.beating(pk=build.pk):
        return _run_build(build, log=log)


def _run_build(build: ImageBuild, *, log: Callable[[str], None] | None) -> ImageBuild:
    env = build.environment

    def on_line(text: str) -> None:
        _append(build, text)
        if log is not None:
            log(text)

    with open(_lock_path(build.spec_hash), "w") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            on_line(f"waiting for another build of {build.image_tag} on this engine to end")
            fcntl.flock(lock, fcntl.LOCK_EX)
        # Any other build of this spec still "running" here was cut short (a worker died).
        ImageBuild.objects.filter(
            spec_hash=build.spec_hash,
            engine=builder.engine_name(),
            status__in=[ImageBuild.Status.RUNNING],
        ).exclude(pk=build.pk).update(
            status=ImageBuild.Status.FAILED, error="interrupted", finished_at=timezone.now()
        )
        build.status = ImageBuild.Status.RUNNING
        build.engine = builder.engine_name()
        build.started_at = timezone.now()
        build.save(update_fields=["status", "engine", "started_at"])

        if not build.forced and builder.image_exists(build.image_tag):
            on_line(f"{build.image_tag} is already on this engine (built before): nothing to do.")
            result = builder.BuildResult(ok=True)
        else:
            on_line(f"building {build.image_tag} for {env.name}:{env.version} ({env.source})")
            result = build_image(env, on_line=on_line)
        build.status = ImageBuild.Status.SUCCEEDED if result.ok else ImageBuild.Status.FAILED
        build.failed_step = result.failed_step
        build.error = result.error[:5000]
        build.finished_at = timezone.now()
        build.save(update_fields=["status", "failed_step", "error", "finished_at"])
    return build


def _new_build(
    env: EnvironmentVersion, *, actor=None, force: bool = False, owned: bool = False
) -> ImageBuild:
    """A Queued build row. `owned`: this worker runs it now (ensure_image), so it beats from
    its creation on; else it waits for a worker to take its task and does not beat yet."""
    return ImageBuild.objects.create(
        workspace_id=env.workspace_id,
        environment=env,
        spec_hash=env.spec_hash,
        image_tag=image_tag(env),
        forced=force,
        requested_by=actor if actor is not None and actor.is_authenticated else None,
        heartbeat_at=timezone.now() if owned else None,
    )


def ensure_image(
    env: EnvironmentVersion, *, log: Callable[[str], None] | None = None, force: bool = False
) -> str:
    """A Docker image tag for `env` that exists on this engine, built when missing (or when
    forced); `log` receives each line of build output. Internal (the job runner): no actor.
    Raises ImageUnavailable (an image environment whose image is not here) or BuildFailed."""
    tag = image_tag(env)
    try:
        if env.source == Source.IMAGE:
            if builder.image_exists(tag):
                return tag
            raise ImageUnavailable(
                f"image '{tag}' of environment {env.name}:{env.version} is not on this Docker "
                "engine, and the studio never pulls images: load it (docker load / docker "
                "build) on the engine, or use an environment built on the base image "
                f"({settings.STUDIO_BASE_IMAGE}) with conda_file or pip_requirements."
            )
        if not force and builder.image_exists(tag):
            return tag
    except builder.EngineUnavailable as exc:
        raise ImageUnavailable(str(exc)) from None
    build = run_build(_new_build(env, force=force, owned=True), log=log)
    if build.status != ImageBuild.Status.SUCCEEDED:
        where = f" at '{build.failed_step}'" if build.failed_step else ""
        raise BuildFailed(
            f"building the image of environment {env.name}:{env.version} failed{where}: "
            f"{build.error}",
            build=build,
        )
    return tag


@transaction.atomic
def build_request(*, actor, env: EnvironmentVersion, force: bool = False) -> ImageBuild:
    """Queue a build of `env` on a worker (the page's Build / Rebuild button, `studio
    environment build [--force]`)."""
    permissions.require(actor, Action.ASSET_UPDATE, env.workspace)
    if env.source == Source.IMAGE:
        raise ValidationError.for_field(
            "source", "an image environment is not built: its image must exist on the engine."
        )
    build = _new_build(env, actor=actor, force=force)
    from ..tasks import build_environment as build_environment_task

    transaction.on_commit(lambda: build_environment_task.delay(str(build.pk)))
    return build


def build_claim_and_run(build_id: str) -> ImageBuild | None:
    """The worker's side of build_request: claim the queued build, run it."""
    claimed = ImageBuild.objects.filter(pk=build_id, status=ImageBuild.Status.QUEUED).update(
        status=ImageBuild.Status.RUNNING, started_at=timezone.now()
    )
    if claimed != 1:
        return None
    build = ImageBuild.objects.select_related("environment", "environment__build_context").get(
        pk=build_id
    )
    return run_build(build)


# --- reads of builds (scoped like selectors) -----------------------------------------------------


def build_latest(*, actor, env: EnvironmentVersion) -> ImageBuild | None:
    """The newest build of this environment version (None when it was never built)."""
    permissions.require(actor, Action.ASSET_VIEW, env.workspace)
    return ImageBuild.objects.filter(environment=env).order_by("-created_at", "-id").first()


def image_on_engine(*, actor, env: EnvironmentVersion) -> bool | None:
    """Whether the version's image is on this machine's Docker engine, whoever built it: an
    image is named by the hash of its spec, so an environment with the same packages (the
    same curated one in another workspace, say) shares it and its jobs start without a
    build. None when no engine answers (the web may run where no engine is)."""
    permissions.require(actor, Action.ASSET_VIEW, env.workspace)
    return builder.image_on_engine(image_tag(env))


def build_get(*, actor, env: EnvironmentVersion, build_id: str) -> ImageBuild:
    """One build of this environment version."""
    permissions.require(actor, Action.ASSET_VIEW, env.workspace)
    build = ImageBuild.objects.filter(environment=env, pk=_uuid(build_id)).first()
    if build is None:
        raise NotFound(f"No build '{build_id}' of {env.name}:{env.version}.")
    return build


def build_log(*, actor, build: ImageBuild, after: int = 0, limit: int = 2000):
    """The build's log lines after seq `after`, in order (at most `limit`)."""
    permissions.require(actor, Action.ASSET_VIEW, build.environment.workspace)
    return list(
        ImageBuildLogLine.objects.filter(build=build, seq__gt=after).order_by("seq")[:limit]
    )
