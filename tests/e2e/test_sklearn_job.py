"""Issue 5's done-when, end to end: a real scikit-learn script using mlflow.autolog() runs as
a job submitted from YAML with the real CLI, in a real container on the curated sklearn image
(built once per machine, then cached); Chromium watches its metrics chart grow while it runs;
autolog's confusion matrix shows in place under Outputs + logs; its MLflow model registers
from the job page's "Register model" button. And a job printing
numbered lines with a \\r progress bar: the page's log tail grows live, without gaps or
duplicates."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from apps.assets.models import ModelVersion
from apps.jobs.models import Job, LatestMetric

from .conftest import job_status, wait_for

pytestmark = [pytest.mark.browser, pytest.mark.docker, pytest.mark.django_db(transaction=True)]

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "sklearn-iris"
S = Job.Status
# The sklearn image is built on a machine's first run (minutes), then cached.
FIRST_BUILD_S = 900


def chart_points(page, key: str) -> int:
    shown = page.locator(f'#charts .chart[data-key="{key}"]').get_attribute("data-shown", timeout=0)
    return int(shown or 0)


def has_chart(page, key: str) -> bool:
    return page.locator(f'#charts .chart[data-key="{key}"][data-shown]').count() > 0


def test_an_autologged_sklearn_job_from_yaml_charts_live_and_registers_its_model(
    run_in_process, studio_server, studio_cli, page_as, owner, workspace, tmp_path
):
    example = tmp_path / "sklearn-iris"
    shutil.copytree(EXAMPLE, example)
    result = studio_cli(
        owner, "job", "create", "-w", "churn", "--file", str(example / "job.yml"),
        "--name", "iris-e2e", "-o", "json",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    job = Job.objects.get(name="iris-e2e")
    assert job.spec["environment"], job.spec

    page = page_as(owner)
    page.goto(f"{studio_server.url}/w/churn/jobs/iris-e2e/?tab=metrics")
    # Preparing may build the image (first run on a machine); then the script starts.
    wait_for(
        lambda: job_status("iris-e2e") in (S.RUNNING, *Job.TERMINAL),
        timeout=FIRST_BUILD_S, every=1, what="the job to run",
    )  # fmt: skip
    assert job_status("iris-e2e") == S.RUNNING, Job.objects.get(name="iris-e2e").error
    wait_for(lambda: has_chart(page, "epoch_accuracy"), timeout=60, what="the epoch_accuracy chart")
    seen: list[int] = []  # the chart's point count, each time it changed while Running
    while job_status("iris-e2e") == S.RUNNING:
        points = chart_points(page, "epoch_accuracy")
        if not seen or points != seen[-1]:
            seen.append(points)
        page.wait_for_timeout(200)
    assert len(seen) >= 3 and seen == sorted(seen), seen  # grew at least twice, live

    wait_for(lambda: job_status("iris-e2e") in Job.TERMINAL, timeout=120, what="the end")
    job = Job.objects.get(name="iris-e2e")
    assert job.status == S.COMPLETED, (job.error, list(job.log_lines.values_list("text")))
    assert LatestMetric.objects.get(job=job, key="epoch_accuracy").step == 23
    # autolog's metrics of the final fit, and the loop's last point reaches the page
    assert LatestMetric.objects.filter(job=job, key__startswith="training_").exists()
    assert job.params.filter(key="max_iter", value="500").exists()
    wait_for(lambda: chart_points(page, "epoch_accuracy") == 24, timeout=15, what="24 points")

    # autolog drew the final fit's confusion matrix (matplotlib is in the curated image), and
    # the Outputs + logs tab shows the picture in place
    page.goto(f"{studio_server.url}/w/churn/jobs/iris-e2e/?tab=outputs")
    page.get_by_role("link", name="training_confusion_matrix.png").click()
    picture = page.locator("#file-preview img.preview-image")
    expect(picture).to_be_visible()
    picture.evaluate("img => img.decode()")  # rejects when the browser cannot show it
    assert picture.evaluate("img => img.naturalWidth") > 100

    page.goto(f"{studio_server.url}/w/churn/jobs/iris-e2e/")
    page.get_by_role("link", name="Register model").click()
    expect(page.get_by_label("Output")).to_have_value("outputs/model")
    page.get_by_label("Model name").fill("iris-classifier")
    page.get_by_role("button", name="Register").click()
    expect(page).to_have_url(re.compile(r"/w/churn/models/iris-classifier/versions/1/$"))
    row = ModelVersion.objects.get(name="iris-classifier", version="1")
    assert row.type == ModelVersion.Type.MLFLOW
    assert {"sklearn", "python_function"} <= set(row.flavors)
    assert row.signature and row.created_by_job_id == job.pk


PROGRESS_JOB = """\
$schema: https://azuremlschemas.azureedge.net/latest/commandJob.schema.json
code: ./src
command: python lines.py
environment: azureml:AzureML-python-3.11@latest
experiment_name: log-tail
"""

LINES_PY = """\
import sys, time

for i in range(1, 41):
    print(f"line {i:03d}", flush=True)
    if i % 10 == 0:
        for p in range(0, 101, 25):
            sys.stdout.write(f"\\rprogress {i // 10} {p:3d}%")
            sys.stdout.flush()
            time.sleep(0.05)
        sys.stdout.write("\\n")
        sys.stdout.flush()
    time.sleep(0.25)
"""

EXPECTED = []
for _i in range(1, 41):
    EXPECTED.append(f"line {_i:03d}")
    if _i % 10 == 0:
        EXPECTED.append(f"progress {_i // 10} 100%")

SHOWN_JS = """() => [...document.querySelectorAll('#logtail .ln[data-seq]')].map(
  (el) => [Number(el.dataset.seq), el.classList.contains('system'),
           el.querySelector('.text').textContent])"""


def test_the_log_tail_grows_live_without_gaps_or_duplicates(
    run_in_process, studio_server, studio_cli, page_as, owner, workspace, tmp_path
):
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "lines.py").write_text(LINES_PY)
    (tmp_path / "job.yml").write_text(PROGRESS_JOB)
    result = studio_cli(
        owner, "job", "create", "-w", "churn", "--file", str(tmp_path / "job.yml"),
        "--name", "tail-e2e",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    page = page_as(owner)
    page.goto(f"{studio_server.url}/w/churn/jobs/tail-e2e/?tab=logs")
    wait_for(
        lambda: job_status("tail-e2e") in (S.RUNNING, *Job.TERMINAL),
        timeout=FIRST_BUILD_S, every=0.5, what="the job to run",
    )  # fmt: skip
    counts: list[int] = []  # how many lines the page showed, each time it changed
    while job_status("tail-e2e") == S.RUNNING:
        shown = len(page.evaluate(SHOWN_JS))
        if not counts or shown != counts[-1]:
            counts.append(shown)
        page.wait_for_timeout(200)
    assert len(counts) >= 3 and counts == sorted(counts), counts

    wait_for(lambda: job_status("tail-e2e") in Job.TERMINAL, timeout=60, what="the end")
    assert job_status("tail-e2e") == S.COMPLETED
    expect(page.locator("#logtail .log-end")).to_be_visible(timeout=15_000)
    shown = page.evaluate(SHOWN_JS)
    seqs = [seq for seq, _, _ in shown]
    assert seqs == list(range(1, len(seqs) + 1))  # numbered from 1, no gap, no duplicate
    assert [text for _, system, text in shown if not system] == EXPECTED
    job = Job.objects.get(name="tail-e2e")
    assert len(seqs) == job.log_seq
