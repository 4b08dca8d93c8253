"""The supervisor of one local job: `python -I _local_supervisor.py <state dir>`.

Started by LocalExecutor.start() in a session of its own, it outlives the worker that started
it. It runs the job (in a new process group, with the spec's user, memory limit and network
isolation), numbers its output lines and appends them to `events.jsonl`, enforces the timeout,
turns SIGTERM into a cancel, and writes `outcome.json` once the job has ended and every line
is on disk. Any process can then read the job's events (from the start, deterministically)
and its outcome. Standard library only: it loads base.py by path, not as a package.
"""

from __future__ import annotations

import ctypes
import json
import os
import queue
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import UTC, datetime

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import base as contract  # noqa: E402  (base.py: the contract, stdlib only)

CLONE_NEWNET = 0x40000000


def write_json(path: str, data: dict) -> None:
    tmp = f"{path}.tmp"
    with open(tmp, "w", encoding="utf-8") as fh:
        json.dump(data, fh)
    os.replace(tmp, path)


def preexec(config: dict):
    """Runs in the child between fork and exec (the supervisor has no other thread yet)."""

    def setup():
        if config.get("unshare_net"):
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.unshare(CLONE_NEWNET) != 0:
                raise OSError(ctypes.get_errno(), "unshare(CLONE_NEWNET) failed")
        if config.get("rlimit_as"):
            limit = int(config["rlimit_as"])
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
        if config.get("cpu_count"):
            cpus = sorted(os.sched_getaffinity(0))[: int(config["cpu_count"])]
            os.sched_setaffinity(0, cpus)
        if config.get("uid") is not None:
            os.setgroups([])
            os.setgid(int(config["gid"]))
            os.setuid(int(config["uid"]))
            os.chdir(config["cwd"])  # entered as root above; the job's user must be able to

    return setup


def kill_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def main(state_dir: str) -> int:
    with open(os.path.join(state_dir, "job.json"), encoding="utf-8") as fh:
        config = json.load(fh)
    events_path = os.path.join(state_dir, "events.jsonl")
    outcome_path = os.path.join(state_dir, "outcome.json")
    canceled = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: canceled.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)

    events = open(events_path, "a", encoding="utf-8")  # noqa: SIM115
    os.chmod(events_path, 0o600)
    try:
        proc = subprocess.Popen(
            config["argv"],
            env=config["env"],
            cwd=config["cwd"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
            preexec_fn=preexec(config),
            close_fds=True,
        )
    except Exception as exc:  # the executor turns this into an error of start()
        write_json(
            outcome_path,
            {"exit_code": None, "kind": "failed", "reason": f"failed: could not start: {exc}"},
        )
        return 1
    started = time.time()
    write_json(
        os.path.join(state_dir, "supervisor.json"),
        {
            "pid": os.getpid(),
            "job_pid": proc.pid,
            "job_token": contract.process_token(proc.pid),
            "started": started,
        },
    )

    inbox: queue.Queue = queue.Queue()

    def reader(stream: str, fd: int) -> None:
        while True:
            try:
                chunk = os.read(fd, 65536)
            except OSError:
                chunk = b""
            if not chunk:
                inbox.put((stream, None, time.time()))
                return
            inbox.put((stream, chunk, time.time()))

    for stream, pipe in ((contract.STDOUT, proc.stdout), (contract.STDERR, proc.stderr)):
        threading.Thread(target=reader, args=(stream, pipe.fileno()), daemon=True).start()

    splitter = contract.LineSplitter()
    open_streams = 2
    timeout = config.get("timeout")
    deadline = started + timeout if timeout else None
    reason_kind = None  # "timeout" or "canceled" once we stop the job ourselves
    kill_at = None
    exited_at = None
    line_began: dict[str, float] = {}
    shown: dict[str, str | None] = {contract.STDOUT: None, contract.STDERR: None}
    shown_at: dict[str, float] = {contract.STDOUT: 0.0, contract.STDERR: 0.0}
    grace = float(config.get("grace", 1.0))

    def record(event: contract.LogEvent) -> None:
        data = {"seq": event.seq, "stream": event.stream, "text": event.text}
        data["ts"] = event.ts.timestamp()
        if event.partial:
            data["partial"] = True
        events.write(json.dumps(data) + "\n")

    while open_streams:
        try:
            stream, chunk, ts = inbox.get(timeout=0.1)
        except queue.Empty:
            chunk = False
        if chunk is None:
            open_streams -= 1
        elif chunk:
            began = not splitter.pending.get(stream) or b"\n" in chunk
            for event in splitter.feed(stream, chunk, datetime.fromtimestamp(ts, UTC)):
                shown[event.stream] = None
                record(event)
            if not splitter.pending.get(stream):
                line_began.pop(stream, None)
            elif began:
                line_began[stream] = ts
        now = time.time()
        for name, buf in splitter.pending.items():
            if not buf or now - line_began.get(name, now) < contract.PARTIAL_INTERVAL:
                continue
            text = contract.partial_text(bytes(buf))
            if text and text != shown[name] and now - shown_at[name] >= contract.PARTIAL_INTERVAL:
                shown[name], shown_at[name] = text, now
                record(contract.LogEvent(splitter.seq, name, text, contract.now(), partial=True))
        events.flush()
        if proc.poll() is None:
            if reason_kind is None and canceled.is_set():
                reason_kind = "canceled"
            elif reason_kind is None and deadline is not None and now >= deadline:
                reason_kind = "timeout"
            if reason_kind and kill_at is None:
                kill_group(proc.pid, signal.SIGTERM)
                kill_at = now + grace
            elif kill_at is not None and now >= kill_at:
                kill_group(proc.pid, signal.SIGKILL)
        else:
            if exited_at is None:
                exited_at = now
                # What the job left running in its group ends with it (as in a container).
                kill_group(proc.pid, signal.SIGKILL)
            elif now - exited_at > 2.0:
                break  # a stray process holds the pipes open; stop reading

    for event in splitter.close():
        record(event)
    events.flush()
    events.close()
    exit_code = proc.wait()
    if exit_code < 0:
        exit_code = 128 - exit_code  # as a shell reports a death by signal
    tail = tuple(splitter.stderr_tail)
    memory = config.get("rlimit_as")
    if reason_kind == "canceled":
        outcome = contract.Outcome.canceled(exit_code, tail)
    elif reason_kind == "timeout":
        outcome = contract.Outcome.timed_out(exit_code, float(timeout), tail)
    elif memory and exit_code != 0 and any(_is_oom(line) for line in tail):
        outcome = contract.Outcome.oom(exit_code, int(memory), tail, how="failed")
    else:
        outcome = contract.Outcome.from_exit(exit_code, tail)
    write_json(
        outcome_path,
        {
            "exit_code": outcome.exit_code,
            "kind": str(outcome.kind),
            "reason": outcome.reason,
            "tail": list(outcome.tail),
        },
    )
    return 0


_OOM_MARKERS = ("MemoryError", "Cannot allocate memory", "std::bad_alloc", "out of memory")


def _is_oom(line: str) -> bool:
    return any(marker in line for marker in _OOM_MARKERS)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
