"""The job runner: takes one Queued job from its compute's queue to an end.

System-internal (no actor, never routed); `apps/jobs/tasks.py::run_job_task` calls `run()`.
The steps (docs/runner.md, the executor contract in docs/executors.md):

1. take a node of the compute (`scheduling.node_acquire`: strict FIFO, a full compute or
   earlier jobs waiting for its free nodes leave the job Queued and the task retries) and
   claim the job (Queued → Preparing, one UPDATE);
2. prepare: the code snapshot as the working directory, the environment's image (built
   if needed, its log in the job's log), inputs (read-only bind mount, a copy, or the URI),
   outputs (a mounted folder, or a folder uploaded at the end), secrets, a run token;
3. start the executor and persist its handle at once (Running);
4. drain its events: log lines redacted and stored in batches, metrics stored, the cancel
   flag and a heartbeat checked between batches (the reaper watches the heartbeat);
5. Finalizing: ./outputs and ./logs become the run's artifacts, upload-mode outputs are
   copied, outputs with `register` become asset versions; then the outcome is recorded;
6. in `finally`: the run token is revoked, the executor cleaned up, the node released and
   the run task of the head of the compute's queue sent at once.

The runner never imports `docker`; executors never touch the ORM.
"""

from __future__ import annotations

import logging
import os
import posixpath
import shutil
import socket
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from apps.assets import commands
from apps.workspaces import scheduling, storage
from apps.workspaces.redaction import Redactor
from studio.errors import DomainError, ValidationError

from . import artifacts
from .executors import (
    ExecutorError,
    Handle,
    Heartbeat,
    LogEvent,
    MetricEvent,
    Mount,
    Outcome,
    OutcomeKind,
    RunSpec,
    SpecError,
    get_executor,
)
from .models import Job, LatestMetric, LogLine, MetricSample
from .services import rollups
from .services.lifecycle import ACTIVE, S, now_ms, transition

log = logging.getLogger(__name__)

JOB_UID = 1000  # the user jobs run as (RunSpec.user); host folders they write are given to it
BATCH_LINES = 500  # store log lines every this many lines ...
BATCH_SECONDS = 0.5  # ... or this often, whichever comes first
BEAT_SECONDS = 5.0  # how often a runner proves it is alive (handle["beat"])
BUILD_WAIT_SECONDS = 1.0  # how often a job waiting for another worker's image build looks
DONE, FULL, SKIPPED = "done", "full", "skipped"
CONTAINER_CODE = "/mnt/code"
MODEL_TYPES = ("mlflow_model", "custom_model", "triton_model")


# Executors ----------------------------------------------------------------------------------


def executor_name_for(job: Job) -> str:
    """`local` for the local compute; otherwise settings.STUDIO_EXECUTOR (default docker)."""
    if job.compute_id and job.compute.type == "local":
        return "local"
    return getattr(settings, "STUDIO_EXECUTOR", "docker")


def executor_for(name: str, compute=None):
    """A fresh executor with the studio's options (the same in every process, so any of
    them can poll, cancel or clean up a handle). An attached compute's jobs run on its
    engine: pass the compute, or the executor talks to the local engine."""
    options: dict = dict(getattr(settings, "STUDIO_EXECUTOR_OPTIONS", {}).get(name, {}))
    if name == "docker":
        options.setdefault("instance", getattr(settings, "STUDIO_EXECUTOR_INSTANCE", "studio"))
        if compute is not None and compute.type == "attached":
            options.update(engine_options(compute))
    elif name == "local":
        options.setdefault("state_dir", str(Path(settings.STUDIO_HOME) / "executors" / "local"))
    return get_executor(name, **options)


def engine_options(compute) -> dict:
    """DockerExecutor options for an attached compute's engine: its URL, the TLS or ssh
    credentials from the workspace's vault, and `remote` (the engine does not see this
    machine's files, so the job's files are copied in and out). `remote` is
    config["remote"] when set, else true for tcp:// and ssh://, false for unix://."""
    from apps.workspaces.services.compute import _secrets_of

    config = compute.config or {}
    url = str(config.get("url") or "")
    if not url:
        return {}
    options: dict = {
        "base_url": url,
        "remote": bool(config.get("remote", not url.startswith("unix://"))),
    }
    secrets = _secrets_of(compute)
    tls = config.get("tls") or {}
    if url.startswith("tcp://") and tls.get("enabled"):
        options["tls"] = {
            **{k: secrets[k] for k in ("ca_cert", "client_cert", "client_key") if k in secrets},
            "verify": tls.get("verify", True),
        }
    if url.startswith("ssh://"):
        options["ssh"] = {
            "private_key": secrets.get("ssh_private_key", ""),
            "known_hosts": config.get("ssh_known_hosts", ""),
        }
    return options


def cancel_handle(encoded: str, compute=None) -> None:
    """Stop the job behind an encoded handle (returns once it has stopped), on the engine
    of the compute it runs on (given, or the one its runner recorded in the job's handle)."""
    handle = Handle.decode(encoded)
    if compute is None:
        compute = handle_compute(handle)
    executor = executor_for(handle.executor, compute)
    try:
        executor.cancel(handle)
    finally:
        _close(executor)


def handle_compute(handle: Handle):
    """The compute a handle's job runs on: handle["compute"] as its runner recorded it,
    else the job's compute."""
    from apps.workspaces.models import Compute

    row = Job.objects.filter(pk=handle.job_id).values("handle", "compute_id").first()
    if row is None:
        return None
    compute_id = (row["handle"] or {}).get("compute") or row["compute_id"]
    return Compute.objects.filter(pk=compute_id).select_related("workspace").first()


def _close(executor) -> None:
    """Release what an executor holds (an attached engine's client and secrets' folder)."""
    close = getattr(executor, "close", None)
    if close is not None:
        _quietly(close)


def jobs_root() -> Path:
    """Where working directories live: STUDIO_JOB_DIR, else STUDIO_HOME/jobs. Every parent
    must be traversable by uid 1000 for local jobs (see docs/executors.md)."""
    root = getattr(settings, "STUDIO_JOB_DIR", "") or Path(settings.STUDIO_HOME) / "jobs"
    return Path(root)


def studio_url(executor_name: str, compute=None) -> str:
    """The studio as a job sees it: an attached compute's config["studio_url"] (its engine
    is on another machine), STUDIO_JOB_STUDIO_URL, else the host through Docker's
    host-gateway (`studio-host`), else 127.0.0.1 for local jobs."""
    configured = getattr(settings, "STUDIO_JOB_STUDIO_URL", "")
    if compute is not None and compute.type == "attached":
        configured = (compute.config or {}).get("studio_url") or configured
    if configured:
        return configured.rstrip("/")
    port = os.environ.get("STUDIO_PORT", "8000")
    host = "studio-host" if executor_name == "docker" else "127.0.0.1"
    return f"http://{host}:{port}"


# Entry point --------------------------------------------------------------------------------


def run(job_id: str, *, worker: str = "") -> str:
    """Run a Queued job to its end. FULL when its compute has no free node for it (full, or
    the jobs queued before it take the free ones: the job stays Queued, the task retries);
    SKIPPED when another runner or a cancel got it first."""
    worker = worker or socket.gethostname()
    job = Job.objects.select_related("compute", "workspace", "created_by").filter(pk=job_id)
    job = job.first()
    if job is None or job.status != S.QUEUED:
        return SKIPPED
    if job.compute_id:
        try:
            node = scheduling.node_acquire(
                compute=job.compute, job_id=job.pk, worker=worker, user=job.created_by
            )
        except DomainError as exc:  # an instance that is stopped or assigned to another user
            transition(job.pk, S.FAILED, from_=(S.QUEUED,), reason=exc.message, error=exc.message)
            _release(job)  # it no longer waits: the next in the queue may go
            return DONE
        if node is None:
            return FULL
    beat = {"beat": time.time(), "worker": worker}
    claimed = transition(
        job.pk, S.PREPARING, from_=(S.QUEUED,), attempts=F("attempts") + 1, worker=worker,
        handle=beat, start_time_ms=now_ms(),
    )  # fmt: skip
    if not claimed:
        # Canceled meanwhile: give the node back. Claimed by another delivery of the task
        # (a kick and a retry of the same job): the node is that runner's, keep it.
        status = Job.objects.filter(pk=job.pk).values_list("status", flat=True).first()
        if status is None or status in Job.TERMINAL:
            _release(job)
        return SKIPPED
    job.refresh_from_db()
    JobRunner(job, worker).execute()
    return DONE


def _release(job: Job) -> None:
    """Free the job's node and send the run task of the head of its compute's queue."""
    from .services.lifecycle import node_release

    node_release(job)


# The runner ---------------------------------------------------------------------------------


class Canceled(Exception):
    """The job was canceled before its command started."""


@dataclass
class Prepared:
    """What preparing the job produced: the RunSpec's parts and what to do at the end."""

    command: str = ""
    image: str = ""
    env: dict[str, str] = field(default_factory=dict)
    mounts: list[Mount] = field(default_factory=list)
    uploads: list[tuple[str, Path, str]] = field(default_factory=list)  # name, folder, uri
    registers: list[tuple[str, dict, str]] = field(default_factory=list)  # name, output, uri


class JobRunner:
    """One job's run, from Preparing to its end. Holds the handle dict (the only writer)."""

    def __init__(self, job: Job, worker: str):
        self.job, self.worker = job, worker
        self.spec = job.spec or {}
        self.state: dict = dict(job.handle or {})
        self.seq = job.log_seq  # the last stored line
        self.pending: list[LogLine] = []
        self.metrics: list[MetricEvent] = []
        self.redactor = Redactor([])
        self.name = executor_name_for(job)
        self.executor = executor_for(self.name, job.compute)
        self.handle: Handle | None = None
        self.workdir = jobs_root() / job.pk.hex
        self.code = self.workdir / "code"
        self.isolated = bool(getattr(self.executor, "isolated", True))
        # An engine without this machine's files: copy in, copy back (docs/executors.md)
        self.remote = self.isolated and getattr(self.executor, "remote", False) is True
        self.last_flush = self.last_beat = time.monotonic()
        self.beat_lock = threading.Lock()  # the main thread and `beating()`'s thread

    # The run ------------------------------------------------------------------------------

    def execute(self) -> None:
        from .services.tokens import run_token_revoke

        try:
            prepared = self.prepare()
            self.start(prepared)
            self.drain()
            outcome = self.outcome()
            self.finalize(prepared, outcome)
        except Canceled:
            self.end(S.CANCELED, "canceled before it started", error="")
        except SpecError as exc:
            self.end(S.FAILED, f"{exc.field}: {exc.message}")
        except DomainError as exc:
            self.end(S.FAILED, _domain_message(exc))
        except ExecutorError as exc:
            self.end(S.FAILED, f"executor: {exc}")
        except Exception as exc:  # a bug must still end the job, with something to go on
            log.exception("job %s failed in the runner", self.job.pk)
            self.end(S.FAILED, f"runner error: {type(exc).__name__}: {exc}")
        finally:
            self.flush(force=True)
            run_token_revoke(job=self.job)
            if self.handle is not None:
                _quietly(self.executor.cleanup, self.handle)
            _close(self.executor)
            _release(self.job)
            shutil.rmtree(self.workdir, ignore_errors=True)

    def prepare(self) -> Prepared:
        """Working directory, image, inputs, outputs, env and command (status Preparing)."""
        prepared = Prepared()
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.code.mkdir(exist_ok=True)
        if self.job.code_id:
            from apps.assets.services.code import snapshot_extract

            self.system(f"Extracting the code snapshot ({self.job.code.file_count} files)")
            snapshot_extract(self.job.code, self.code)
        _give_to_job_user(self.workdir)
        prepared.image = self.image()
        values = self.inputs(prepared)
        values.update(self.outputs(prepared))
        prepared.env = self.environment(prepared)
        prepared.command = commands.render(
            self.spec.get("command", ""),
            {"inputs": values["inputs"], "outputs": values["outputs"]},
        )
        self.check_cancel()
        return prepared

    def start(self, prepared: Prepared) -> None:
        """Start the command and persist its handle before anything else can fail."""
        cpus, memory = self.limits()
        mounts, copies = tuple(prepared.mounts), {}
        if self.remote:  # the engine gets copies; what the job writes comes back (finalize)
            copies["copy_in"], mounts = mounts, ()
            back = [Mount(str(self.code / d), f"{CONTAINER_CODE}/{d}") for d in ("outputs", "logs")]
            back += [m for m in copies["copy_in"] if not m.read_only and m.target != CONTAINER_CODE]
            copies["copy_out"] = tuple(back)
        spec = RunSpec(
            job_id=str(self.job.pk),
            command=prepared.command,
            image=prepared.image if self.isolated else "",
            python="" if self.isolated else _host_python(),
            working_dir=CONTAINER_CODE if self.isolated else str(self.code),
            env=prepared.env,
            mounts=mounts,
            cpus=cpus,
            memory_bytes=memory,
            timeout_seconds=self.spec.get("timeout_s") or None,
            labels={"job_name": self.job.name[:200]},
            extra_hosts={"studio-host": "host-gateway"} if self.isolated else {},
            ca_bundle=getattr(settings, "STUDIO_BUILD_CA_BUNDLE", "") or "",
            **copies,
        )
        if self.remote:
            url = self.job.compute.config.get("url", "")
            self.system(f"Copying the job's files to the Docker engine at {url}")
        if self.job.compute_id:  # every process that polls or cancels uses this engine
            self.state["compute"] = str(self.job.compute_id)
        if hasattr(self.executor, "say"):  # e.g. sending the image to a remote engine
            self.executor.say = self.system
        with self.beating():  # sending an image to a remote engine may take minutes
            self.handle = self.executor.start(spec)
        self.flush(force=True)  # system lines first: the executor's lines follow them
        self.state["seq_offset"] = self.seq
        self.state["encoded"] = self.handle.encode()
        self.state["beat"] = time.time()
        moved = transition(
            self.job.pk, S.RUNNING, from_=(S.PREPARING,), handle=self.state, reason=self.name
        )
        if not moved:  # canceled while it started: persist the handle and stop it
            Job.objects.filter(pk=self.job.pk).update(handle=self.state)
            self.executor.cancel(self.handle)

    def drain(self) -> None:
        """Hot path: store the executor's events in batches until the job ends."""
        offset = self.state["seq_offset"]
        after = self.seq - offset
        for event in self.executor.events(self.handle, after_seq=after):
            if isinstance(event, LogEvent):
                if event.partial:
                    continue  # live tail only: never stored
                self.add_line(offset + event.seq, event.stream, event.text, event.ts)
            elif isinstance(event, MetricEvent):
                self.metrics.append(event)
            if isinstance(event, Heartbeat) or len(self.pending) >= BATCH_LINES:
                self.flush(force=True)
                self.check_cancel_running()
            elif time.monotonic() - self.last_flush >= BATCH_SECONDS:
                self.flush(force=True)
                self.check_cancel_running()

    def outcome(self) -> Outcome:
        deadline = time.monotonic() + 10
        while True:
            outcome = self.executor.poll(self.handle)
            if outcome is not None or time.monotonic() > deadline:
                return outcome or Outcome(None, "lost: no outcome", OutcomeKind.LOST)
            time.sleep(0.1)

    def finalize(self, prepared: Prepared, outcome: Outcome) -> None:
        """Finalizing: artifacts, uploads and registrations, then the outcome."""
        self.flush(force=True)
        transition(self.job.pk, S.FINALIZING, from_=(S.RUNNING, S.CANCEL_REQUESTED))
        if self.remote:
            copied = self.executor.collect(self.handle)
            self.system(f"Copied back from the engine: {', '.join(copied) or 'nothing'}")
        self.upload_artifacts()
        if outcome.kind == OutcomeKind.SUCCEEDED:
            for name, folder, uri in prepared.uploads:
                self.system(f"Uploading output '{name}' to {uri}")
                _upload_folder(self.job.workspace, folder, uri, field=f"outputs.{name}")
            for name, output, uri in prepared.registers:
                self.register(name, output, uri)
        self.record(outcome)

    def record(self, outcome: Outcome) -> None:
        status = {OutcomeKind.SUCCEEDED: S.COMPLETED, OutcomeKind.CANCELED: S.CANCELED}.get(
            outcome.kind, S.FAILED
        )
        error = ""
        if status == S.FAILED:
            tail = "\n".join(self.redactor.redact(line) for line in outcome.tail)
            error = outcome.reason + (f"\n{tail}" if tail else "")
        self.end(status, outcome.reason, error=error, exit_code=outcome.exit_code)

    def end(self, status: str, reason: str, *, error: str | None = None, **fields) -> None:
        """The job's terminal status (from wherever it is now)."""
        self.flush(force=True)
        error = reason if error is None else error
        transition(
            self.job.pk, status, from_=(S.QUEUED, *ACTIVE), reason=reason, error=error[:20000],
            log_seq=self.seq, **fields,
        )  # fmt: skip

    # Preparing -----------------------------------------------------------------------------

    def image(self) -> str:
        """The environment's image tag, built when needed (the build log goes to the job's
        log); the base image when the spec names no environment."""
        ref = self.spec.get("environment") or {}
        if not ref.get("id"):
            return settings.STUDIO_BASE_IMAGE
        from apps.assets.models import EnvironmentVersion

        env = EnvironmentVersion.objects.get(pk=ref["id"])
        try:
            from apps.assets.services.environments import ensure_image
        except ImportError:  # environments not built yet: image environments only
            return env.image or settings.STUDIO_BASE_IMAGE
        if not self.isolated:
            return ""
        self.system(f"Environment {env.name}:{env.version}")
        with self.beating():  # a build step may print nothing for minutes
            self.wait_for_build(env)
            return ensure_image(env, log=self.system)

    def wait_for_build(self, env) -> None:
        """Another worker of this engine is building the same image: wait for it (the job
        can be canceled meanwhile) while that build beats. A build whose worker went silent
        is not waited for: this job builds the image itself (the build lock of a dead
        process is free; `run_build` marks the lost build interrupted)."""
        from apps.assets import builder
        from apps.assets.models import ImageBuild

        from .reaper import STALE_SECONDS

        engine, said = builder.engine_name(), False
        while True:
            other = (
                ImageBuild.objects.filter(
                    spec_hash=env.spec_hash, engine=engine, status=ImageBuild.Status.RUNNING
                )
                .order_by("-started_at")
                .first()
            )
            if other is None:
                return
            last = other.heartbeat_at or other.started_at or other.created_at
            if (timezone.now() - last).total_seconds() > STALE_SECONDS:
                self.system(
                    f"The build {other.pk} of {other.image_tag} lost its worker "
                    f"(silent since {last:%H:%M:%S} UTC): building the image here"
                )
                return
            if not said:
                self.system(
                    f"Waiting for the build of {other.image_tag} already running on {engine}"
                )
                said = True
            self.check_cancel()
            time.sleep(BUILD_WAIT_SECONDS)

    def inputs(self, prepared: Prepared) -> dict:
        values: dict[str, dict] = {"inputs": {}, "outputs": {}}
        for name, entry in (self.spec.get("inputs") or {}).items():
            if entry.get("kind") == "literal":
                text = commands.literal_text(entry.get("value"))
                values["inputs"][name] = None if entry.get("value") is None else text
                if entry.get("value") is not None:
                    prepared.env[f"AZURE_ML_INPUT_{name}"] = text
                continue
            path = self.materialize(name, entry, prepared)
            values["inputs"][name] = path
            prepared.env[f"AZURE_ML_INPUT_{name}"] = path
        return values

    def materialize(self, name: str, entry: dict, prepared: Prepared) -> str:
        """The path (or URI) the command sees for a data input."""
        uri, mode = entry.get("uri") or "", entry.get("mode") or "ro_mount"
        is_file = entry.get("type") == "uri_file"
        field_name = f"inputs.{name}"
        if mode == "direct" or (uri.startswith(("http://", "https://")) and mode != "download"):
            return uri
        target = f"/mnt/inputs/{name}"
        if uri.startswith(("http://", "https://")):
            local = self.workdir / "inputs" / name
            local.mkdir(parents=True, exist_ok=True)
            base = posixpath.basename(uri.split("?")[0]) or "data"
            self.system(f"Downloading input '{name}' from {uri}")
            with urllib.request.urlopen(uri, timeout=60) as src, open(local / base, "wb") as out:
                shutil.copyfileobj(src, out, 2**20)
            return self.mount(prepared, local, target, read_only=True) + f"/{base}"
        datastore, rel = storage.resolve_datastore_uri(self.job.workspace, uri, field=field_name)
        store = storage.open_store(datastore)
        base = posixpath.basename(rel.rstrip("/")) if is_file else ""
        if mode != "download" and isinstance(store, storage.LocalStore):
            source = Path(store.root_path) / rel
            if not source.exists():
                raise ValidationError.for_field(field_name, f"{uri} does not exist.")
            if is_file:
                return self.mount(prepared, source, f"{target}/{base}", read_only=True)
            return self.mount(prepared, source, target, read_only=True)
        local = self.workdir / "inputs" / name
        self.system(f"Downloading input '{name}' from {uri}")
        _download(store, rel, local / base if is_file else local)
        _give_to_job_user(local)
        path = self.mount(prepared, local, target, read_only=True)
        return f"{path}/{base}" if is_file else path

    def outputs(self, prepared: Prepared) -> dict:
        values: dict[str, dict] = {"outputs": {}}
        for name, entry in (self.spec.get("outputs") or {}).items():
            uri = entry.get("uri") or storage.uri(
                "workspaceblobstore", f"azureml/{self.job.name}/{name}/"
            )
            mode = entry.get("mode") or "rw_mount"
            datastore, rel = storage.resolve_datastore_uri(
                self.job.workspace, uri, field=f"outputs.{name}"
            )
            store = storage.open_store(datastore)
            is_file = entry.get("type") == "uri_file"
            folder_rel = posixpath.dirname(rel) if is_file else rel
            if mode == "rw_mount" and isinstance(store, storage.LocalStore):
                folder = Path(store.root_path) / folder_rel
            else:
                folder = self.workdir / "outputs" / name
                prepared.uploads.append((name, folder, storage.uri(datastore.name, folder_rel)))
            folder.mkdir(parents=True, exist_ok=True)
            _give_to_job_user(folder)
            path = self.mount(prepared, folder, f"/mnt/outputs/{name}", read_only=False)
            if is_file:
                path = f"{path}/{posixpath.basename(rel)}"
            values["outputs"][name] = path
            prepared.env[f"AZURE_ML_OUTPUT_{name}"] = path
            if entry.get("register"):
                prepared.registers.append((name, entry, uri))
        return values

    def mount(self, prepared: Prepared, source: Path, target: str, *, read_only: bool) -> str:
        """Add a mount; return the path the job sees (the host path for local jobs)."""
        if not self.isolated:
            target = str(source)
        prepared.mounts.append(Mount(str(source), target, read_only))
        return target

    def environment(self, prepared: Prepared) -> dict[str, str]:
        from apps.workspaces.services.secrets import secret_env_for

        from .services.tokens import run_token_issue

        job = self.job
        # Defaults the job's own environment_variables may change. The container's user (uid
        # 1000) has no passwd entry: without USER, getpass.getuser() fails and mlflow warns
        # "getpwuid(): uid not found" on every run; with it, the MLflow `mlflow.user` tag of a
        # run the script starts names who submitted the job. GitPython, which mlflow imports,
        # prints a 15-line warning when the image has no git: quiet.
        user = job.created_by.username if job.created_by_id else "studio"
        env = {"USER": user, "LOGNAME": user, "GIT_PYTHON_REFRESH": "quiet"}
        env.update(
            {str(k): str(v) for k, v in (self.spec.get("environment_variables") or {}).items()}
        )
        env.update(prepared.env)
        refs = self.spec.get("secrets") or {}
        if refs:
            secrets = secret_env_for(workspace=job.workspace, refs=refs, purpose=f"job {job.name}")
            self.redactor = Redactor(secrets.values())
            env.update(secrets)
        env.update(
            MLFLOW_TRACKING_URI=f"{studio_url(self.name, job.compute)}/mlflow/{job.workspace.name}",
            MLFLOW_RUN_ID=job.run_id,
            MLFLOW_EXPERIMENT_ID=str(job.experiment_id),
            MLFLOW_DISABLE_TELEMETRY="true",
            # the "View run at http://studio-host:…" lines name an address only the job can
            # reach: the job's page is where the user looks
            MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT="true",
            AZUREML_RUN_ID=job.name,
            AZUREML_ARM_WORKSPACE_NAME=job.workspace.name,
            AZUREML_ARM_PROJECT_NAME=job.experiment.name,
        )
        if job.created_by_id:
            env["MLFLOW_TRACKING_TOKEN"] = run_token_issue(job=job)
        if self.isolated:
            prepared.mounts.insert(0, Mount(str(self.code), CONTAINER_CODE, False))
        return env

    def limits(self) -> tuple[float | None, int | None]:
        """The compute's VM size as CPU and memory limits. A container engine caps the CPUs
        at its own cores; a process on this machine at this machine's."""
        compute = self.job.compute
        size = getattr(compute, "size", None) if compute is not None else None
        if size is None:
            return None, None
        cpus = float(size.cores)
        if not self.isolated:
            cpus = min(cpus, float(os.cpu_count() or 1))
        return cpus, int(float(size.memory_gb) * 2**30)

    # Finalizing ---------------------------------------------------------------------------

    def upload_artifacts(self) -> None:
        """./outputs and ./logs of the working directory become the run's artifacts."""
        base = f"{self.job.experiment_id}/{self.job.run_id}/artifacts"
        for folder in ("outputs", "logs"):
            root = self.code / folder
            if not root.is_dir():
                continue
            count = 0
            for path in sorted(root.rglob("*")):
                if path.is_file() and not path.is_symlink():
                    rel = path.relative_to(self.code).as_posix()
                    with open(path, "rb") as fh:
                        artifacts.put_stream(self.job.workspace, f"{base}/{rel}", fh)
                    count += 1
                    self.beat()
            if count:
                self.system(f"Uploaded {count} files of ./{folder} as the run's artifacts")

    def register(self, name: str, output: dict, uri: str) -> None:
        from apps.assets.services.versions import version_create

        spec = output["register"]
        spec = {"name": spec} if isinstance(spec, str) else dict(spec)
        kind_type = output.get("type") or "uri_folder"
        kind = "model" if kind_type in MODEL_TYPES else "data"
        datastore, _ = storage.resolve_datastore_uri(self.job.workspace, uri)
        with transaction.atomic():
            row = version_create(
                actor=None, workspace=self.job.workspace, kind=kind,
                name=spec.get("name") or f"{self.job.name}-{name}",
                version=spec.get("version"), description=spec.get("description", ""),
                tags=spec.get("tags"), created_by_job=self.job,
                fields={"type": kind_type, "path": uri, "datastore": datastore},
            )  # fmt: skip
        self.system(f"Registered output '{name}' as {kind} {row.name}:{row.version}")

    # Logs, metrics, heartbeat, cancel -------------------------------------------------------

    def system(self, text: str) -> None:
        """A line of the studio's own (image build, downloads) in the job's log."""
        for line in str(text).splitlines() or [""]:
            self.seq += 1
            self.add_line(self.seq, LogLine.Stream.SYSTEM, line, None)
        self.flush()

    def add_line(self, seq: int, stream: str, text: str, ts) -> None:
        line = LogLine(job_id=self.job.pk, seq=seq, stream=stream, text=self.redactor.redact(text))
        if ts is not None:
            line.ts = ts
        self.pending.append(line)
        self.seq = max(self.seq, seq)

    def flush(self, force: bool = False) -> None:
        """Store pending lines and metrics; move the resume point; beat. Unique (job, seq)
        makes a second store of a line a no-op."""
        now = time.monotonic()
        if not force and now - self.last_flush < BATCH_SECONDS and len(self.pending) < BATCH_LINES:
            return
        self.last_flush = now
        if self.pending:
            LogLine.objects.bulk_create(self.pending, ignore_conflicts=True)
            self.pending = []
            Job.objects.filter(pk=self.job.pk, log_seq__lt=self.seq).update(log_seq=self.seq)
        if self.metrics:
            self.store_metrics()
        self.beat()

    def store_metrics(self) -> None:
        samples = [
            MetricSample(
                job_id=self.job.pk, key=m.name, value=m.value,
                timestamp_ms=int(m.ts.timestamp() * 1000),
            )
            for m in self.metrics
        ]  # fmt: skip
        MetricSample.objects.bulk_create(samples)
        rollups.upsert(self.job.pk, ((s.key, s.step, s.timestamp_ms, s.value) for s in samples))
        for sample in samples:  # system metrics: a couple of keys every few seconds
            LatestMetric.objects.update_or_create(
                job_id=self.job.pk, key=sample.key,
                defaults={"value": sample.value, "timestamp_ms": sample.timestamp_ms, "step": 0},
            )  # fmt: skip
        self.metrics = []

    def beat(self, *, force: bool = False) -> None:
        """Tell the reaper this runner is alive (at most every BEAT_SECONDS)."""
        with self.beat_lock:
            now = time.monotonic()
            if not force and now - self.last_beat < BEAT_SECONDS:
                return
            self.last_beat = now
            self.state["beat"] = time.time()
            Job.objects.filter(pk=self.job.pk).update(handle=dict(self.state))

    def beating(self):
        """Beat from a thread while a long quiet step runs (an image build, an image sent
        to a remote engine), so the reaper does not take a job that is only waiting."""
        from studio.heartbeat import beating

        return beating(
            lambda: self.beat(force=True), every=BEAT_SECONDS, name=f"beat-{self.job.pk.hex[:8]}"
        )

    def check_cancel(self) -> None:
        status = Job.objects.filter(pk=self.job.pk).values_list("status", flat=True).first()
        if status in (S.CANCEL_REQUESTED, S.CANCELED):
            raise Canceled

    def check_cancel_running(self) -> None:
        status = Job.objects.filter(pk=self.job.pk).values_list("status", flat=True).first()
        if status in (S.CANCEL_REQUESTED, S.CANCELED):
            self.executor.cancel(self.handle)


# Helpers ------------------------------------------------------------------------------------


def _domain_message(exc: DomainError) -> str:
    fields = getattr(exc, "fields", None) or {}
    if fields:
        return "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in fields.items())
    return str(getattr(exc, "message", exc))


def _quietly(fn, *args) -> None:
    try:
        fn(*args)
    except Exception:
        log.warning("%s failed", getattr(fn, "__name__", fn), exc_info=True)


def _host_python() -> str:
    configured = getattr(settings, "STUDIO_LOCAL_PYTHON", "")
    if configured:
        return configured
    return "/usr/bin/python3" if os.path.exists("/usr/bin/python3") else ""


def _give_to_job_user(path: Path) -> None:
    """Let the job's user (uid 1000) write there: chown when running as root, else open
    the modes up."""
    for root, dirs, files in os.walk(path):
        for name in [root, *(os.path.join(root, d) for d in dirs)]:
            _own(name, 0o777)
        for name in files:
            _own(os.path.join(root, name), 0o666)
    if path.is_file():
        _own(str(path), 0o666)


def _own(name: str, mode: int) -> None:
    try:
        if os.geteuid() == 0:
            os.chown(name, JOB_UID, JOB_UID, follow_symlinks=False)
        else:
            os.chmod(name, os.stat(name).st_mode | mode)
    except OSError:
        log.warning("could not give %s to the job's user", name, exc_info=True)


def _download(store, rel: str, dest: Path) -> None:
    """Copy a datastore file or folder to `dest`, a chunk at a time."""
    entry = store.stat(rel)
    if not entry.is_dir:
        dest.parent.mkdir(parents=True, exist_ok=True)
        with store.open_read(rel) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out, 2**20)
        return
    dest.mkdir(parents=True, exist_ok=True)
    cursor = None
    while True:
        page, cursor = store.ls(rel, cursor=cursor, limit=1000)
        for item in page:
            _download(store, item.path, dest / posixpath.basename(item.path.rstrip("/")))
        if not cursor:
            return


def _upload_folder(workspace, folder: Path, uri: str, *, field: str) -> None:
    datastore, rel = storage.resolve_datastore_uri(workspace, uri, field=field)
    store = storage.open_store(datastore)
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            target = posixpath.join(rel, path.relative_to(folder).as_posix())
            with open(path, "rb") as fh:
                store.write_stream(target, fh, chunk_size=2**20)
