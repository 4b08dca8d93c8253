# ruff: noqa: F811 - fixtures imported from test_runner_support
"""The runner's lifecycle against the scripted FakeExecutor: statuses with their times, log
lines numbered without gaps, failures with exit code and stderr tail, secrets redacted,
cancel and queue order. The real executors are exercised in test_runner_docker.py."""

from __future__ import annotations

import pytest

from apps.jobs import executors, runner, tasks
from apps.jobs.executors import Heartbeat, Outcome, SpecError
from apps.jobs.models import Job
from apps.jobs.services import lifecycle
from apps.workspaces.models import SecretAccess
from apps.workspaces.services import secrets as secret_services
from studio.errors import Conflict, PermissionDenied
from tests.fake_executor import EPOCH, FakeExecutor
from tests.jobs.test_runner_support import job_dir, lines, make_job, statuses  # noqa: F401

S = Job.Status


@pytest.fixture
def fake(settings, job_dir, monkeypatch):  # noqa: F811
    executor = FakeExecutor(script=["hello", ("stderr", "warming up"), "bye"])
    # Restored after the test: other tests' get_executor("fake") must build their own.
    monkeypatch.setitem(executors._REGISTRY, "fake", lambda **_: executor)
    settings.STUDIO_EXECUTOR = "fake"
    return executor


def test_a_job_goes_through_every_status_and_stores_its_lines_in_order(fake, workspace, owner):
    job = make_job(workspace, owner)
    assert runner.run(str(job.pk), worker="w1") == runner.DONE
    job.refresh_from_db()
    assert job.status == S.COMPLETED and job.exit_code == 0 and job.error == "", job.error
    assert statuses(job) == [S.PREPARING, S.RUNNING, S.FINALIZING, S.COMPLETED]
    assert [(seq, text) for seq, _, text in lines(job)] == [
        (1, "hello"),
        (2, "warming up"),
        (3, "bye"),
    ]
    assert job.log_seq == 3 and job.attempts == 1 and job.worker == "w1"
    assert job.end_time_ms >= job.start_time_ms


def test_the_container_gets_the_tracking_and_azure_variables(fake, workspace, owner):
    job = make_job(workspace, owner, {"environment_variables": {"EPOCHS": 3}})
    runner.run(str(job.pk))
    env = fake.jobs[str(job.pk)].spec.env
    assert env["MLFLOW_RUN_ID"] == job.run_id and env["AZUREML_RUN_ID"] == job.name
    assert env["MLFLOW_EXPERIMENT_ID"] == str(job.experiment_id)
    assert env["MLFLOW_TRACKING_URI"].endswith("/mlflow/churn")
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true" and env["EPOCHS"] == "3"
    assert env["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] == "true"
    # who submitted it (the container's uid has no passwd entry), and no GitPython banner
    assert env["USER"] == env["LOGNAME"] == owner.username
    assert env["GIT_PYTHON_REFRESH"] == "quiet"
    assert env["MLFLOW_TRACKING_TOKEN"].startswith("studio_") or env["MLFLOW_TRACKING_TOKEN"]
    # The run token is revoked when the job ends.
    from apps.workspaces.models import ApiToken

    assert ApiToken.objects.get(scope_job_id=job.pk).revoked_at is not None


def test_the_job_s_own_variables_override_the_defaults(fake, workspace, owner):
    job = make_job(workspace, owner, {"environment_variables": {"USER": "ci", "LOGNAME": "ci"}})
    runner.run(str(job.pk))
    env = fake.jobs[str(job.pk)].spec.env
    assert env["USER"] == env["LOGNAME"] == "ci"


def test_a_failed_job_shows_its_exit_code_and_the_last_lines_of_stderr(fake, workspace, owner):
    job = make_job(workspace, owner)
    fake.script_for(
        str(job.pk), [("stderr", "Traceback"), ("stderr", "ValueError: bad")],
        Outcome.from_exit(3, tail=("Traceback", "ValueError: bad")),
    )  # fmt: skip
    runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.FAILED and job.exit_code == 3
    assert job.error.startswith("failed: exit code 3") and "ValueError: bad" in job.error


def test_a_spec_the_executor_refuses_fails_the_job_naming_the_field(fake, workspace, owner):
    fake.start_error = SpecError("image", "no such image: nope:1")
    job = make_job(workspace, owner)
    runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.FAILED and job.error == "image: no such image: nope:1"


def test_secrets_are_injected_audited_and_redacted_from_stored_lines(fake, workspace, owner):
    secret_services.secret_set(
        actor=owner, workspace=workspace, name="db-password", value="hunter2-very-secret"
    )
    job = make_job(workspace, owner, {"secrets": {"DB_PASSWORD": "db-password"}})
    fake.script_for(str(job.pk), ["pw=hunter2-very-secret"], Outcome.from_exit(0))
    runner.run(str(job.pk))
    assert fake.jobs[str(job.pk)].spec.env["DB_PASSWORD"] == "hunter2-very-secret"
    assert [text for _, _, text in lines(job)] == ["pw=***"]
    read = SecretAccess.objects.get(secret_name="db-password", kind=SecretAccess.Kind.READ)
    assert read.actor_username == "system" and job.name in read.purpose


def test_a_missing_secret_fails_the_job_naming_it(fake, workspace, owner):
    job = make_job(workspace, owner, {"secrets": {"TOKEN": "nope"}})
    runner.run(str(job.pk))
    job.refresh_from_db()
    assert job.status == S.FAILED and "secrets.TOKEN" in job.error


def test_the_command_is_rendered_with_input_values(fake, workspace, owner):
    spec = {
        "command": "python train.py --lr ${{inputs.lr}} $[[--seed ${{inputs.seed}}]]",
        "inputs": {
            "lr": {"kind": "literal", "value": 0.1},
            "seed": {"kind": "literal", "value": None},
        },
    }
    job = make_job(workspace, owner, spec)
    runner.run(str(job.pk))
    started = fake.jobs[str(job.pk)].spec
    assert started.command == "python train.py --lr 0.1"
    assert started.env["AZURE_ML_INPUT_lr"] == "0.1"


def test_canceling_a_queued_job_ends_it_and_the_runner_skips_it(fake, workspace, owner):
    job = make_job(workspace, owner)
    lifecycle.job_cancel(actor=owner, job=job)
    assert runner.run(str(job.pk)) == runner.SKIPPED
    job.refresh_from_db()
    assert job.status == S.CANCELED and statuses(job) == [S.CANCELED]
    with pytest.raises(Conflict):
        lifecycle.job_cancel(actor=owner, job=job)


def test_a_reader_cannot_cancel_a_job(fake, workspace, owner, reader):
    job = make_job(workspace, owner)
    with pytest.raises(PermissionDenied):
        lifecycle.job_cancel(actor=reader, job=job)


def test_a_cancel_requested_while_running_stops_the_job(fake, workspace, owner):
    job = make_job(workspace, owner)
    original = runner.JobRunner.check_cancel_running

    def cancel_then_check(self):
        Job.objects.filter(pk=self.job.pk).update(status=S.CANCEL_REQUESTED)
        original(self)

    runner.JobRunner.check_cancel_running = cancel_then_check
    fake.script_for(str(job.pk), ["one", Heartbeat(EPOCH, 0), "two"], Outcome.from_exit(0))
    try:
        runner.run(str(job.pk))
    finally:
        runner.JobRunner.check_cancel_running = original
    job.refresh_from_db()
    assert job.status == S.CANCELED and job.error == ""


def test_enqueue_queues_the_job_and_sends_its_task_to_the_compute_queue(
    workspace, owner, django_capture_on_commit_callbacks, monkeypatch
):
    from apps.workspaces.models import Compute

    compute = Compute.objects.get(workspace=workspace, name="serverless")
    job = make_job(workspace, owner, compute=compute, status=S.NOT_STARTED)
    sent = []
    monkeypatch.setattr(tasks.run_job_task, "apply_async", lambda **kw: sent.append(kw))
    with django_capture_on_commit_callbacks(execute=True):
        lifecycle.job_enqueue(job)
    job.refresh_from_db()
    assert job.status == S.QUEUED and job.queued_at is not None
    assert sent == [{"args": [str(job.pk)], "queue": compute.queue_name}]


def test_queue_position_follows_the_order_jobs_were_queued(workspace, owner):
    from apps.workspaces.models import Compute

    compute = Compute.objects.get(workspace=workspace, name="serverless")
    jobs = [make_job(workspace, owner, compute=compute) for _ in range(3)]
    assert [lifecycle.queue_position(j) for j in jobs] == [1, 2, 3]
    lifecycle.job_cancel(actor=owner, job=jobs[0])
    jobs[1].refresh_from_db()
    assert lifecycle.queue_position(jobs[1]) == 1


def test_the_run_task_is_late_acked_and_rejected_when_its_worker_is_lost():
    assert tasks.run_job_task.name == "jobs.run"
    assert tasks.run_job_task.acks_late and tasks.run_job_task.reject_on_worker_lost
