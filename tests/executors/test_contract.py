"""The executor contract, tested for real: every test runs real containers on a real Docker
engine (docker) or real processes (local). Tests of behaviour only an isolating executor can
give (read-only mounts, host-gateway, the container's hardening) run on docker only."""

from __future__ import annotations

import http.server
import ipaddress
import os
import threading
import time
import uuid

import pytest

from apps.jobs.executors import (
    Executor,
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
from apps.jobs.executors.base import CA_BUNDLE_TARGET, MIB
from tests.fake_executor import EPOCH, FakeExecutor

ALL = [pytest.param("docker", marks=pytest.mark.docker), "local"]
DOCKER = [pytest.param("docker", marks=pytest.mark.docker)]
MAX_SECONDS = 30


def run(executor: Executor, spec: RunSpec) -> tuple[Handle, list, Outcome]:
    """Start a job, drain its events, and return them with its outcome."""
    handle = executor.start(spec)
    events = []
    deadline = time.monotonic() + MAX_SECONDS
    for event in executor.events(handle):
        events.append(event)
        assert time.monotonic() < deadline, "the events iterator did not end"
    return handle, events, wait_outcome(executor, handle)


def wait_outcome(executor: Executor, handle: Handle, seconds: float = 10) -> Outcome:
    deadline = time.monotonic() + seconds
    while (outcome := executor.poll(handle)) is None:
        assert time.monotonic() < deadline, "no outcome"
        time.sleep(0.05)
    return outcome


def lines(events, stream: str | None = None) -> list[str]:
    return [e.text for e in finals(events) if stream in (None, e.stream)]


def finals(events) -> list[LogEvent]:
    return [e for e in events if isinstance(e, LogEvent) and not e.partial]


def partials(events) -> list[LogEvent]:
    return [e for e in events if isinstance(e, LogEvent) and e.partial]


def place(executor: Executor, host_path, target: str, read_only: bool) -> tuple[Mount, str]:
    """What the runner does: a container sees host_path at target; a local job uses the host
    path itself (no filesystem isolation)."""
    if getattr(executor, "isolated", False):
        return Mount(str(host_path), target, read_only), target
    return Mount(str(host_path), str(host_path), read_only), str(host_path)


# --- output --------------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_hello_world_prints_and_exits_zero(executor, make_spec):
    handle, events, outcome = run(executor, make_spec("echo hello world"))
    assert isinstance(executor, Executor)
    assert handle.executor == executor.name and handle.external_id
    assert [(e.seq, e.stream, e.text) for e in finals(events)] == [(1, "stdout", "hello world")]
    assert outcome == Outcome(0, "succeeded", OutcomeKind.SUCCEEDED, ())


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_exit_code_is_propagated_with_the_last_stderr_lines(executor, make_spec):
    command = "for i in $(seq 1 30); do echo problem $i >&2; done; echo fine; exit 3"
    _, events, outcome = run(executor, make_spec(command))
    assert outcome.exit_code == 3
    assert outcome.kind == OutcomeKind.FAILED
    assert outcome.reason == "failed: exit code 3"
    assert outcome.tail == tuple(f"problem {i}" for i in range(11, 31))


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_stdout_and_stderr_are_separate_streams(executor, make_spec):
    command = "echo to-out; echo to-err >&2; echo out-again"
    _, events, _ = run(executor, make_spec(command))
    assert lines(events, "stdout") == ["to-out", "out-again"]
    assert lines(events, "stderr") == ["to-err"]
    assert all(e.ts.tzinfo is not None for e in finals(events))


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_five_thousand_fast_lines_come_in_order_without_gaps_or_duplicates(executor, make_spec):
    script = (
        "import sys\n"
        "for i in range(5000):\n"
        "    print(f'out {i}')\n"
        "    if i % 10 == 0:\n"
        "        print(f'err {i}', file=sys.stderr)\n"
    )
    _, events, outcome = run(executor, make_spec(f'python3 -c "{script}"'))
    assert outcome.succeeded
    events = finals(events)
    assert [e.seq for e in events] == list(range(1, 5501))
    assert lines(events, "stdout") == [f"out {i}" for i in range(5000)]
    assert lines(events, "stderr") == [f"err {i}" for i in range(0, 5000, 10)]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_last_line_without_newline_is_kept(executor, make_spec):
    _, events, _ = run(executor, make_spec("printf 'first\\nlast words'"))
    assert lines(events) == ["first", "last words"]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_long_lines_are_whole_up_to_64_kib_and_cut_in_pieces_beyond(executor, make_spec):
    script = "print('\u00e9' * 30000); print('x' * 100000); print('end')"
    _, events, outcome = run(executor, make_spec(f'python3 -c "{script}"'))
    assert outcome.succeeded
    # 60,000 bytes of two-byte characters: one line, although the engine logs it in 16 KiB
    # pieces; 100,000 bytes: a 64 KiB piece and the rest.
    assert lines(events) == ["\u00e9" * 30000, "x" * 65536, "x" * 34464, "end"]
    assert [e.seq for e in finals(events)] == [1, 2, 3, 4]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_progress_bar_keeps_its_final_state_and_shows_intermediate_states(executor, make_spec):
    script = (
        "import sys, time\n"
        "for i in range(1, 13):\n"
        "    sys.stderr.write(f'\\rstep {i}/12'); sys.stderr.flush(); time.sleep(0.15)\n"
        "sys.stderr.write('\\n'); print('done')\n"
    )
    _, events, outcome = run(executor, make_spec(f'python3 -c "{script}"'))
    assert outcome.succeeded
    # Each stream keeps its order; between streams, the order is the engine's.
    assert lines(events, "stderr") == ["step 12/12"]
    assert lines(events, "stdout") == ["done"]
    assert sorted(e.seq for e in finals(events)) == [1, 2]
    shown = partials(events)
    assert shown, "no intermediate state of the progress bar was shown"
    assert all(e.stream == "stderr" and e.seq in (0, 1) for e in shown)
    assert all(e.text.startswith("step ") for e in shown)
    assert len({e.text for e in shown}) == len(shown)  # each state shown once
    assert len(shown) <= 5  # at most one every 0.5 s


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_paused_unfinished_line_is_shown_before_it_completes(executor, make_spec):
    _, events, _ = run(executor, make_spec("echo before; printf 'Enter: '; sleep 1.2; echo ok"))
    kinds = [(e.partial, e.seq, e.text) for e in events if isinstance(e, LogEvent)]
    assert kinds == [(False, 1, "before"), (True, 1, "Enter: "), (False, 2, "Enter: ok")]


# --- environment ---------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_env_is_passed_and_the_studios_own_env_is_not(executor, make_spec, monkeypatch):
    monkeypatch.setenv("STUDIO_TEST_SECRET", "must-not-leak")
    env = {"GREETING": "hello there", "AZUREML_RUN_ID": "lucid_run_42"}
    command = 'echo "$GREETING|$AZUREML_RUN_ID|${STUDIO_TEST_SECRET:-unset}|$PYTHONUNBUFFERED"'
    _, events, _ = run(executor, make_spec(command, env=env))
    assert lines(events) == ["hello there|lucid_run_42|unset|1"]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_working_dir_is_the_jobs_current_directory(executor, make_spec, host_dir):
    (host_dir / "main.py").write_text("print('running main.py')\n")
    mount, path = place(executor, host_dir, "/mnt/code", read_only=True)
    spec = make_spec("pwd; python3 main.py", working_dir=path, mounts=(mount,))
    _, events, outcome = run(executor, spec)
    assert outcome.succeeded, outcome
    assert lines(events) == [path, "running main.py"]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_the_job_runs_as_uid_1000(executor, make_spec):
    _, events, _ = run(executor, make_spec("id -u; id -g"))
    if getattr(executor, "isolated", False) or executor.switch_user:
        assert lines(events) == ["1000", "1000"]
    else:  # a local executor that is not root runs jobs as its own user
        assert lines(events) == [str(os.getuid()), str(os.getgid())]


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_read_write_mount_is_writable_by_the_job_user(executor, make_spec, host_dir):
    mount, path = place(executor, host_dir, "/mnt/outputs", read_only=False)
    spec = make_spec(f"echo result > {path}/model.txt && echo written", mounts=(mount,))
    _, events, outcome = run(executor, spec)
    assert outcome.succeeded, outcome
    written = host_dir / "model.txt"
    assert written.read_text() == "result\n"
    if getattr(executor, "isolated", False) or executor.switch_user:
        assert written.stat().st_uid == 1000


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_a_read_only_mount_refuses_writes(executor, make_spec, host_dir):
    (host_dir / "data.csv").write_text("a,b\n")
    os.chmod(host_dir / "data.csv", 0o666)  # writable by anyone: only the mount protects it
    spec = make_spec(
        "cat /mnt/in/data.csv; echo x >> /mnt/in/data.csv || echo refused",
        mounts=(Mount(str(host_dir), "/mnt/in", read_only=True),),
    )
    _, events, _ = run(executor, spec)
    assert lines(events, "stdout") == ["a,b", "refused"]
    assert "Read-only file system" in " ".join(lines(events, "stderr"))
    assert (host_dir / "data.csv").read_text() == "a,b\n"


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_network_none_leaves_only_the_loopback_interface(executor, make_spec):
    command = 'python3 -c "import socket; print([n for _, n in socket.if_nameindex()])"'
    spec = make_spec(command, network="none")
    if getattr(executor, "isolated", False) or executor.is_root:
        _, events, _ = run(executor, spec)
        assert lines(events) == ["['lo']"]
    else:
        with pytest.raises(SpecError) as refused:
            executor.start(spec)
        assert refused.value.field == "network"


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_ca_bundle_is_given_to_the_job_and_named_in_its_env(executor, make_spec, host_dir):
    bundle = host_dir / "extra-ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nTEST\n-----END CERTIFICATE-----\n")
    os.chmod(bundle, 0o644)
    command = 'echo "$PIP_CERT|$REQUESTS_CA_BUNDLE|$SSL_CERT_FILE"; sed -n 2p "$SSL_CERT_FILE"'
    _, events, _ = run(executor, make_spec(command, ca_bundle=str(bundle)))
    path = CA_BUNDLE_TARGET if getattr(executor, "isolated", False) else str(bundle)
    assert lines(events) == [f"{path}|{path}|{path}", "TEST"]


# --- limits, cancel, timeout ---------------------------------------------------------------
@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_exceeding_the_memory_limit_gives_a_reason_that_states_the_limit(executor, make_spec):
    command = "python3 -c \"x = b'1' * (200 << 20); print(len(x))\""
    _, _, outcome = run(executor, make_spec(command, memory_bytes=64 * MIB))
    assert outcome.kind == OutcomeKind.OOM, outcome
    assert "memory limit 64 MiB exceeded" in outcome.reason
    if getattr(executor, "isolated", False):
        assert outcome.reason == "killed: memory limit 64 MiB exceeded"
        assert outcome.exit_code == 137


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_job_past_its_timeout_is_stopped_with_a_timeout_reason(executor, make_spec):
    began = time.monotonic()
    _, events, outcome = run(executor, make_spec("echo start; sleep 30", timeout_seconds=1))
    assert time.monotonic() - began < 25  # the job itself would run 30 s
    assert outcome.kind == OutcomeKind.TIMEOUT
    assert outcome.reason == "timeout: exceeded limits.timeout of 1 s"
    assert lines(events) == ["start"]
    assert any(isinstance(e, Heartbeat) for e in events), "a silent job yields heartbeats"
    if executor.name == "docker":  # a container's resource use comes as system metrics
        assert "system/memory_bytes" in {e.name for e in events if isinstance(e, MetricEvent)}


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_cancel_stops_even_a_job_that_ignores_sigterm(executor, make_spec):
    handle = executor.start(make_spec("trap '' TERM; echo started; sleep 60"))
    stream = executor.events(handle)
    seen = []
    for event in stream:
        seen.append(event)
        if lines(seen) == ["started"]:
            break
    began = time.monotonic()
    executor.cancel(handle)
    assert time.monotonic() - began < 20  # the job itself would run 60 s
    outcome = wait_outcome(executor, handle, seconds=1)
    assert outcome.kind == OutcomeKind.CANCELED and outcome.reason == "canceled"
    stream.close()
    executor.cancel(handle)  # idempotent
    assert executor.poll(handle) == outcome


# --- resume, orphans, cleanup --------------------------------------------------------------
@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_events_resume_after_a_seq_from_another_executor_instance(executor, make_spec):
    command = (
        "for i in 1 2 3 4 5; do echo line $i; done; echo warn >&2; sleep 1; "
        "for i in 6 7 8; do echo line $i; done; printf 'tail'"
    )
    handle = executor.start(make_spec(command))
    first = []
    for event in executor.events(handle):
        if isinstance(event, LogEvent) and not event.partial:
            first.append(event)
            if event.seq == 4:
                break  # the runner dies here, while the job still runs
    # A runner restarted on another worker has only the persisted handle.
    other = get_executor(executor.name, **_same_options(executor))
    rest = finals(other.events(Handle.decode(handle.encode()), after_seq=4))
    assert wait_outcome(other, handle).succeeded
    # A replay of the finished job numbers the lines the same way: the first reader's four
    # lines and the second reader's rest are exactly the whole, without gap or duplicate.
    replay = finals(other.events(handle))
    assert [e.seq for e in replay] == list(range(1, 11))
    assert first == replay[:4]
    assert rest == replay[4:]
    assert lines(replay, "stdout") == [f"line {i}" for i in range(1, 9)] + ["tail"]
    assert lines(replay, "stderr") == ["warn"]


def _same_options(executor) -> dict:
    if executor.name == "docker":
        return {"instance": executor.instance}
    return {"state_dir": executor.state_dir}


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_find_orphans_sees_a_running_job_and_cleanup_removes_it(executor, make_spec):
    spec = make_spec("sleep 30")
    handle = executor.start(spec)
    orphans = {o.job_id: o for o in executor.find_orphans()}
    assert spec.job_id in orphans
    assert orphans[spec.job_id].running
    assert orphans[spec.job_id].handle.external_id == handle.external_id
    assert executor.poll(handle) is None
    executor.cleanup(handle)
    assert spec.job_id not in {o.job_id for o in executor.find_orphans()}
    assert executor.poll(handle).kind == OutcomeKind.LOST
    executor.cleanup(handle)  # idempotent


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_job_id_cannot_be_started_twice_before_cleanup(executor, make_spec):
    spec = make_spec("true")
    handle = executor.start(spec)
    with pytest.raises(ExecutorError, match="clean it up first"):
        executor.start(spec)
    wait_outcome(executor, handle)
    executor.cleanup(handle)
    executor.cleanup(executor.start(spec))


# --- docker only ---------------------------------------------------------------------------
def test_the_docker_socket_is_never_mounted(tmp_path):
    link = tmp_path / "innocent"
    link.symlink_to("/var/run/docker.sock")
    for source in ("/var/run/docker.sock", "/run/docker.sock", "/var/run", "/run", "/", link):
        with pytest.raises(ValueError, match="Docker socket"):
            RunSpec(job_id="j1", command="true", mounts=(Mount(str(source), "/mnt/x"),))


def test_host_networking_is_refused():
    for network in ("host", "container:abc"):
        with pytest.raises(SpecError) as refused:
            RunSpec(job_id="j1", command="true", network=network)
        assert refused.value.field == "network"


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_the_container_is_hardened_limited_and_labelled(executor, make_spec):
    spec = make_spec(
        "sleep 5", cpus=0.5, memory_bytes=256 * MIB, labels={"team": "churn"}, timeout_seconds=9
    )
    handle = executor.start(spec)
    attrs = executor.client.api.inspect_container(handle.external_id)
    host = attrs["HostConfig"]
    assert attrs["Config"]["User"] == "1000:1000"
    assert host["CapDrop"] == ["ALL"]
    assert host["SecurityOpt"] == ["no-new-privileges"]
    assert host["PidsLimit"] == 4096
    assert host["Memory"] == 256 * MIB
    assert host["NanoCpus"] == 500_000_000
    assert host["NetworkMode"] == "bridge"
    assert host["AutoRemove"] is False
    assert host["Init"] is True
    assert host["LogConfig"]["Type"] == "json-file"
    assert not any("docker.sock" in m["Source"] for m in attrs["Mounts"])
    labels = attrs["Config"]["Labels"]
    assert labels["studio.job"] == spec.job_id
    assert labels["studio.managed"] == "true"
    assert labels["team"] == "churn"
    assert attrs["Name"] == f"/studio-job-{spec.job_id}"


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_host_gateway_lets_a_job_reach_a_server_on_the_host(executor, make_spec):
    config = executor.client.api.inspect_network("bridge")["IPAM"]["Config"][0]
    # Some engines leave Gateway out of IPAM; the bridge's gateway is then the subnet's first
    # host (docker0's address), as the engine assigns it.
    gateway = config.get("Gateway") or str(next(ipaddress.ip_network(config["Subnet"]).hosts()))

    class Hello(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = b"studio says hi"
            self.send_response(200)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer((gateway, 0), Hello)
    threading.Thread(target=server.handle_request, daemon=True).start()
    port = server.server_address[1]
    try:
        command = (
            "getent hosts studio-host | cut -d' ' -f1; python3 -c \"import urllib.request; "
            f"print(urllib.request.urlopen('http://studio-host:{port}/', timeout=5).read().decode())\""
        )
        spec = make_spec(command, extra_hosts={"studio-host": "host-gateway"})
        _, events, outcome = run(executor, spec)
    finally:
        server.server_close()
    assert outcome.succeeded, outcome
    assert lines(events) == [gateway, "studio says hi"]


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_a_gpu_request_the_engine_cannot_serve_fails_clearly_and_leaves_nothing(
    executor, make_spec
):
    if "nvidia" in executor.client.info().get("Runtimes", {}):
        pytest.skip("this engine has a GPU runtime")  # then GPUs are tested by a real job
    spec = make_spec("nvidia-smi", gpus=1)
    with pytest.raises(SpecError) as refused:
        executor.start(spec)
    assert refused.value.field == "gpus"
    assert spec.job_id not in {o.job_id for o in executor.find_orphans()}


@pytest.mark.parametrize("executor", ["local"], indirect=True)
def test_the_local_executor_refuses_copies_meant_for_a_remote_engine(executor, make_spec, host_dir):
    for key in ("copy_in", "copy_out"):
        spec = make_spec("true", **{key: (Mount(str(host_dir), "/mnt/x"),)})
        with pytest.raises(SpecError) as refused:
            executor.start(spec)
        assert refused.value.field == key
        assert spec.job_id not in {o.job_id for o in executor.find_orphans()}


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_more_cpus_than_the_engine_has_are_capped_at_the_engines_cores(executor, make_spec):
    cores = executor.client.info()["NCPU"]
    handle = executor.start(make_spec("true", cpus=cores + 62))
    host = executor.client.api.inspect_container(handle.external_id)["HostConfig"]
    assert host["NanoCpus"] == cores * 1_000_000_000
    executor.cancel(handle)
    executor.cleanup(handle)


@pytest.mark.parametrize("executor", DOCKER, indirect=True)
def test_a_missing_image_is_a_spec_error_naming_the_image(executor, make_spec):
    with pytest.raises(SpecError) as refused:
        executor.start(make_spec("true", image=f"studio-missing-{uuid.uuid4().hex[:8]}:1"))
    assert refused.value.field == "image"


# --- local only ----------------------------------------------------------------------------
@pytest.mark.parametrize("executor", ["local"], indirect=True)
def test_a_local_job_outlives_a_lost_handle_owner_and_mounts_cannot_be_remapped(
    executor, make_spec, host_dir
):
    with pytest.raises(SpecError) as refused:
        executor.start(make_spec("true", mounts=(Mount(str(host_dir), "/mnt/in"),)))
    assert refused.value.field == "mounts[0].target"
    handle = executor.start(make_spec("sleep 0.5; echo survived"))
    pid = int(handle.external_id.split(":")[0])
    assert os.getsid(pid) == pid  # its own session: a dying worker does not take it along
    other = get_executor("local", state_dir=executor.state_dir)
    assert lines(other.events(handle)) == ["survived"]
    assert wait_outcome(other, handle).succeeded


@pytest.mark.parametrize("executor", ALL, indirect=True)
def test_a_directory_the_job_user_cannot_use_is_refused_naming_the_field(
    executor, make_spec, host_dir
):
    closed = host_dir / "closed"
    closed.mkdir(mode=0o700)  # root's own: uid 1000 may not write (nor, locally, enter) it
    if os.geteuid() != 0:
        pytest.skip("needs root to make a directory that uid 1000 cannot use")
    mount, path = place(executor, closed, "/mnt/outputs", read_only=False)
    with pytest.raises(SpecError) as refused:
        executor.start(make_spec("true", mounts=(mount,)))
    assert refused.value.field == "mounts[0].source"
    assert "does not give uid 1000 'rwx'" in refused.value.message
    if not getattr(executor, "isolated", False):
        with pytest.raises(SpecError) as refused:
            executor.start(make_spec("true", working_dir=str(closed)))
        assert refused.value.field == "working_dir"
    assert executor.find_orphans() == []


def test_an_unreachable_docker_engine_is_an_executor_error():
    executor = get_executor("docker", base_url="unix:///nonexistent/docker.sock")
    spec = RunSpec(job_id="j-1", command="true", image="studio-base:bookworm-py311-r2")
    with pytest.raises(ExecutorError):
        executor.start(spec)
    with pytest.raises(ExecutorError):
        executor.find_orphans()


def test_spec_fields_are_validated_with_their_names():
    cases = {
        "job_id": {"job_id": "../x"},
        "command": {"command": "  "},
        "env.1BAD": {"env": {"1BAD": "x"}},
        "memory_bytes": {"memory_bytes": 1024},
        "cpus": {"cpus": 0},
        "timeout_seconds": {"timeout_seconds": -1},
        "user": {"user": "root"},
        "labels.studio.job": {"labels": {"studio.job": "x"}},
        "mounts[0].target": {"mounts": (Mount("/tmp", "relative"),)},
    }
    for field_name, overrides in cases.items():
        fields = {"job_id": "j1", "command": "true", **overrides}
        with pytest.raises(SpecError) as refused:
            RunSpec(**fields)
        assert refused.value.field == field_name


def test_outcome_reasons_state_limits_in_the_units_people_use():
    assert Outcome.oom(137, 14 * 1024**3).reason == "killed: memory limit 14 GiB exceeded"
    assert Outcome.oom(137, 1536 * MIB).reason == "killed: memory limit 1.5 GiB exceeded"
    assert Outcome.timed_out(137, 30).reason == "timeout: exceeded limits.timeout of 30 s"
    assert Outcome.from_exit(137).reason == "failed: exit code 137 (SIGKILL)"
    assert Handle.decode(Handle("docker", "abc", "j-1").encode()) == Handle("docker", "abc", "j-1")


# --- the fake executor (for the runner's unit tests) ---------------------------------------
def test_the_fake_executor_replays_its_script_deterministically_and_resumes():
    fake = FakeExecutor(
        script=["epoch 1", ("stderr", "careful"), MetricEvent("loss", 0.5, EPOCH), "epoch 2"],
        outcome=Outcome.from_exit(2),
    )
    assert isinstance(fake, Executor)
    handle = fake.start(RunSpec(job_id="j-1", command="python train.py"))
    assert fake.poll(handle) is None
    events = list(fake.events(handle))
    assert [(e.seq, e.stream, e.text) for e in finals(events)] == [
        (1, "stdout", "epoch 1"),
        (2, "stderr", "careful"),
        (3, "stdout", "epoch 2"),
    ]
    assert events[2] == MetricEvent("loss", 0.5, EPOCH)
    assert list(fake.events(handle)) == events  # the same every time
    assert [e.seq for e in finals(fake.events(handle, after_seq=2))] == [3]
    assert fake.poll(handle) == Outcome(2, "failed: exit code 2", OutcomeKind.FAILED)
    assert [o.job_id for o in fake.find_orphans()] == ["j-1"]
    fake.cleanup(handle)
    assert fake.find_orphans() == []
    assert fake.calls[0] == ("start", "j-1") and fake.calls[-1] == ("cleanup", "j-1")


def test_the_fake_executor_can_be_canceled_and_fail_to_start():
    fake = FakeExecutor(script=["a", "b", "c"])
    handle = fake.start(RunSpec(job_id="j-2", command="true"))
    stream = fake.events(handle)
    assert next(stream).text == "a"
    fake.cancel(handle)
    assert list(stream) == []
    assert fake.poll(handle).kind == OutcomeKind.CANCELED
    broken = FakeExecutor(start_error=ExecutorError("engine down"))
    with pytest.raises(ExecutorError, match="engine down"):
        broken.start(RunSpec(job_id="j-3", command="true"))
