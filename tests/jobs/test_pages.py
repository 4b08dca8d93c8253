"""Job pages: the list, the job's tabs, the live log tail (cursor, poller until the end),
the metrics poller, files and previews, the experiment table and compare."""

from __future__ import annotations

import re

import pytest

from apps.jobs.models import Job, LogLine
from tests.conftest import api_client_for, client_for
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db
HX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def run(workspace):
    return make_run(
        workspace,
        name="r1",
        metrics={"loss": [1.0, 0.5]},
        params={"lr": "0.1"},
        logs=["start", "10%\r50%\r100%", "end"],
        files={"outputs/hello.txt": b"hello world"},
    )


def test_job_list_shows_the_run_and_filters_as_a_fragment(owner, workspace, run):
    client = client_for(owner)
    page = client.get("/w/churn/jobs/").content.decode()
    assert "<html" in page and 'data-job="r1"' in page
    fragment = client.get("/w/churn/jobs/", {"q": "nomatch"}, **HX).content.decode()
    assert "<html" not in fragment and 'data-job="r1"' not in fragment


def test_the_job_list_shows_each_job_s_name_under_its_display_name(owner, workspace):
    for name in ("a1", "a2"):
        make_run(workspace, name=name)
    Job.objects.filter(name__in=["a1", "a2"]).update(display_name="iris")
    page = client_for(owner).get("/w/churn/jobs/").content.decode()
    for name in ("a1", "a2"):
        row = page[page.index(f'data-job="{name}"') :]
        row = row[: row.index("</tr>")]
        assert ">iris</a>" in row and f'class="muted run-name">{name}<' in row


def test_overview_shows_timeline_params_and_tags_form(owner, run):
    page = client_for(owner).get("/w/churn/jobs/r1/").content.decode()
    assert 'id="timeline"' in page and "Completed" in page
    assert "lr" in page and "0.1" in page
    assert 'name="tags"' in page


def test_the_timeline_says_how_long_each_status_lasted(owner, workspace):
    import datetime as dt

    from django.utils import timezone

    from apps.jobs.models import JobStatusChange
    from apps.workspaces.templatetags.studio_tags import seconds

    job = make_run(workspace, name="slow", status="Running")
    JobStatusChange.objects.filter(job=job).delete()
    start = timezone.now() - dt.timedelta(minutes=10)
    for status, after in (("Queued", 0), ("Preparing", 2.5), ("Running", 3.3)):
        JobStatusChange.objects.create(
            job=job, status=status, at=start + dt.timedelta(seconds=after)
        )
    page = client_for(owner).get("/w/churn/jobs/slow/").content.decode()
    timeline = page[page.index('id="timeline"') : page.index("</ol>", page.index('id="timeline"'))]
    assert "· 2.5 s<" in timeline and "· 0.8 s<" in timeline  # Queued, then Preparing
    # still Running: about 9 min 57 s so far, whatever this machine's speed
    assert re.search(r"(9 min 5\d s|1\d min \d+ s) so far<", timeline), timeline
    api = api_client_for(owner).get("/api/v1/workspaces/churn/jobs/slow/").json()
    assert [s["seconds"] for s in api["status_timeline"]][:2] == [2.5, 0.8]
    assert [seconds(v) for v in (0.04, 42.4, 185, 7440)] == [
        "< 0.1 s",
        "42 s",
        "3 min 5 s",
        "2 h 4 min",
    ]


def test_a_reader_sees_no_edit_form_and_a_greyed_archive(reader, run):
    page = client_for(reader).get("/w/churn/jobs/r1/").content.decode()
    assert 'name="tags"' not in page
    assert "cannot archive" in page


def test_log_fragment_shows_lines_after_the_cursor_and_no_poller_when_done(owner, run):
    client = client_for(owner)
    first = client.get("/w/churn/jobs/r1/log/", {"after": 1}, **HX).content.decode()
    assert "<html" not in first
    assert 'data-seq="1"' not in first and 'data-seq="2"' in first and 'data-seq="3"' in first
    assert "100%</span>" in first and "10%" not in first  # the rewritten line's last state
    assert 'class="poller"' not in first  # terminal and everything read


def test_a_running_jobs_log_keeps_polling_with_the_new_cursor(owner, workspace):
    job = make_run(workspace, name="live", status="Running", logs=["one"])
    client = client_for(owner)
    body = client.get("/w/churn/jobs/live/log/", {"after": 0}, **HX).content.decode()
    assert 'hx-get="/w/churn/jobs/live/log/?after=1"' in body
    assert 'hx-trigger="every 2s"' in body and 'hx-swap="outerHTML"' in body
    LogLine.objects.create(job=job, seq=2, stream="stdout", text="two")
    Job.objects.filter(pk=job.pk).update(status="Completed")
    body = client.get("/w/churn/jobs/live/log/", {"after": 1}, **HX).content.decode()
    assert 'data-seq="2"' in body and 'class="poller"' not in body


def test_metrics_tab_loads_plotly_from_static_and_lists_charts(owner, run):
    page = client_for(owner).get("/w/churn/jobs/r1/?tab=metrics").content.decode()
    assert "/static/plotly/plotly.min.js" in page
    assert 'data-key="loss"' in page
    poller = client_for(owner).get("/w/churn/jobs/r1/metrics/", **HX).content.decode()
    assert 'id="metrics-poller"' in poller and "hx-get" not in poller  # run is over


def test_metrics_poller_polls_while_running(owner, workspace):
    make_run(workspace, name="live", status="Running", metrics={"acc": [0.1]})
    body = client_for(owner).get("/w/churn/jobs/live/metrics/", **HX).content.decode()
    assert 'hx-trigger="every 2s"' in body and "acc" in body


def test_outputs_tab_lists_files_previews_and_downloads(owner, run):
    client = client_for(owner)
    root = client.get("/w/churn/jobs/r1/files/", **HX).content.decode()
    assert "outputs/" in root
    folder = client.get("/w/churn/jobs/r1/files/", {"path": "outputs"}, **HX).content.decode()
    assert "hello.txt" in folder
    preview = client.get("/w/churn/jobs/r1/files/preview/", {"path": "outputs/hello.txt"}, **HX)
    assert "hello world" in preview.content.decode()
    download = client.get("/w/churn/jobs/r1/files/download/", {"path": "outputs/hello.txt"})
    assert b"".join(download.streaming_content) == b"hello world"
    rest = client.get(
        "/w/churn/jobs/r1/files/download/", {"path": "outputs/hello.txt"}, HTTP_RANGE="bytes=6-"
    )
    assert (rest.status_code, rest["Content-Range"]) == (206, "bytes 6-10/11")
    assert b"".join(rest.streaming_content) == b"world"


def test_the_overview_links_the_job_s_environment_version(owner, workspace):
    job = make_run(workspace, name="env1")
    job.spec = {"environment": {"id": "x", "name": "AzureML-sklearn-1.5", "version": "4"}}
    job.save(update_fields=["spec"])
    page = client_for(owner).get("/w/churn/jobs/env1/").content.decode()
    link = '<a href="/w/churn/environments/AzureML-sklearn-1.5/versions/4/">'
    assert link + "<code>AzureML-sklearn-1.5:4</code></a>" in page


def test_the_overview_links_data_inputs_and_outputs_to_where_they_live(owner, workspace):
    blob = "azureml://datastores/workspaceblobstore/paths"
    job = make_run(workspace, name="links")
    job.spec = {
        "inputs": {
            "asset": {"kind": "data", "type": "uri_folder", "uri": f"{blob}/iris/",
                      "asset": "azureml:iris:3"},
            "file": {"kind": "data", "type": "uri_file", "uri": f"{blob}/raw/a%20b.csv"},
            "folder": {"kind": "data", "type": "uri_folder", "uri": f"{blob}/raw/"},
            "web": {"kind": "data", "type": "uri_file", "uri": "https://example.org/x.csv"},
            "elsewhere": {
                "kind": "data", "type": "uri_file",
                "uri": "azureml://subscriptions/s/resourcegroups/g/workspaces/other/datastores/"
                "workspaceblobstore/paths/x.csv",
            },
            "escape": {"kind": "data", "type": "uri_file", "uri": f"{blob}/../x.csv"},
            "epochs": {"kind": "literal", "value": "24"},
        },
        "outputs": {"model": {"type": "uri_folder", "path": f"{blob}/azureml/links/model/"}},
    }  # fmt: skip
    job.save(update_fields=["spec"])
    page = client_for(owner).get("/w/churn/jobs/links/").content.decode()
    ds = "/w/churn/datastores/workspaceblobstore"
    assert '<a href="/w/churn/data/iris/versions/3/"><code>azureml:iris:3</code>' in page
    assert f'<a href="{ds}/preview/?path=raw/a%20b.csv">' in page
    assert f'<a href="{ds}/?path=raw">' in page
    assert f'<a href="{ds}/?path=azureml/links/model"><code>{blob}/azureml/links/model/' in page
    for bare in ("https://example.org/x.csv", "workspaces/other/datastores", "/../x.csv"):
        cell = page[page.index(bare) - 80 : page.index(bare)]
        assert "<a href" not in cell.rsplit("<td>", 1)[-1], (bare, cell)
    outputs_tab = client_for(owner).get("/w/churn/jobs/links/?tab=outputs").content.decode()
    assert f'<a href="{ds}/?path=azureml/links/model">' in outputs_tab


def png(width: int = 3, height: int = 2) -> bytes:
    """A real PNG (grey pixels), as autolog's confusion matrix would be."""
    import struct
    import zlib

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\0" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )  # fmt: skip


def test_outputs_tab_shows_a_picture_in_place_and_an_svg_only_as_a_download(owner, workspace):
    picture = png()
    make_run(
        workspace, name="pics",
        files={"artifacts/cm.png": picture, "outputs/plot.svg": b"<svg><script/></svg>"},
    )  # fmt: skip
    client, base = client_for(owner), "/w/churn/jobs/pics/files/"
    preview = client.get(f"{base}preview/", {"path": "artifacts/cm.png"}, **HX).content.decode()
    assert '<img class="preview-image"' in preview
    assert "path=artifacts/cm.png&amp;inline=1" in preview and 'alt="artifacts/cm.png"' in preview
    shown = client.get(f"{base}download/", {"path": "artifacts/cm.png", "inline": "1"})
    assert shown["Content-Type"] == "image/png"
    assert shown["Content-Disposition"] == 'inline; filename="cm.png"'
    assert "sandbox" in shown["Content-Security-Policy"]
    assert b"".join(shown.streaming_content) == picture
    saved = client.get(f"{base}download/", {"path": "artifacts/cm.png"})
    assert saved["Content-Type"] == "application/octet-stream"
    assert saved["Content-Disposition"].startswith("attachment")
    svg = client.get(f"{base}preview/", {"path": "outputs/plot.svg"}, **HX).content.decode()
    assert "<img" not in svg
    svg_inline = client.get(f"{base}download/", {"path": "outputs/plot.svg", "inline": "1"})
    assert svg_inline["Content-Type"] == "application/octet-stream"
    assert svg_inline["Content-Disposition"].startswith("attachment")
    missing = client.get(f"{base}preview/", {"path": "artifacts/gone.png"}, **HX)
    assert missing.status_code == 404


def test_std_log_downloads_from_the_page(owner, run):
    answer = client_for(owner).get("/w/churn/jobs/r1/log/download/")
    assert b"".join(answer.streaming_content) == b"start\n10%\r50%\r100%\nend\n"


def test_editing_tags_and_archiving_from_the_page(owner, run):
    client = client_for(owner)
    client.post("/w/churn/jobs/r1/edit/", {"description": "new", "tags": "team=a\nstage = b"})
    job = Job.objects.get(pk=run.pk)
    assert job.description == "new" and job.tags["team"] == "a" and job.tags["stage"] == "b"
    client.post("/w/churn/jobs/r1/archive/")
    assert Job.objects.get(pk=run.pk).archived


def test_experiment_table_has_metric_and_param_columns_sorted(owner, workspace, run):
    make_run(workspace, name="r2", metrics={"loss": [0.1]}, params={"lr": "0.2"})
    page = client_for(owner).get(
        "/w/churn/experiments/exp1/", {"m": "loss", "p": "lr", "sort": "metrics.loss"}
    )
    body = page.content.decode()
    assert body.index('data-run="r2"') < body.index('data-run="r1"')
    assert 'data-metric="loss"' in body and 'data-param="lr"' in body
    # the sorted column says so to assistive technology; the others do not
    assert body.count("aria-sort=") == 1
    assert body.count('aria-sort="ascending"') == 1
    header = body[body.index('aria-sort="ascending"') :]
    assert "loss" in header[: header.index("</th>")]


def test_experiment_table_defaults_to_the_users_metrics_and_names_each_run(owner, workspace):
    from apps.jobs.services import tracking

    job = make_run(workspace, name="r2", metrics={"acc": [0.5], "loss": [0.1]})
    Job.objects.filter(pk=job.pk).update(display_name="iris")
    tracking.run_log(
        actor=owner, workspace=workspace, run_id=job.pk,
        metrics=[tracking.MetricIn("system/cpu_percent", 50.0, 1_700_000_000_000, 0)],
    )  # fmt: skip
    body = client_for(owner).get("/w/churn/experiments/exp1/").content.decode()
    head = body[body.index("<thead>") : body.index("</thead>")]
    assert "acc" in head and "loss" in head and "system/cpu_percent" not in head
    row = body[body.index('data-run="r2"') :]
    row = row[: row.index("</tr>")]
    assert ">iris</a>" in row and 'class="muted run-name">r2<' in row  # runs told apart
    chosen = client_for(owner).get("/w/churn/experiments/exp1/", {"m": "system/cpu_percent"})
    head = chosen.content.decode()
    assert 'data-metric="system/cpu_percent"' in head  # still a column away


def test_experiment_table_shows_a_bad_filter_next_to_the_table(owner, run):
    body = client_for(owner).get("/w/churn/experiments/exp1/", {"filter": "metrics.x >>> 1"})
    assert body.status_code == 200
    assert 'role="alert"' in body.content.decode()


def test_experiment_table_queries_do_not_grow_with_runs(
    owner, workspace, django_assert_max_num_queries
):
    for i in range(40):
        make_run(workspace, name=f"q{i}", metrics={"m": [i]}, params={"p": str(i)})
    client = client_for(owner)
    client.get("/w/churn/experiments/exp1/")  # warm the session and caches
    with django_assert_max_num_queries(14):
        assert client.get("/w/churn/experiments/exp1/", {"m": "m", "p": "p"}).status_code == 200


def test_compare_shows_params_side_by_side_and_marks_differences(owner, workspace, run):
    make_run(workspace, name="r2", metrics={"loss": [0.1]}, params={"lr": "0.2"})
    body = client_for(owner).get("/w/churn/experiments/exp1/compare/?run=r1&run=r2")
    text = body.content.decode()
    assert 'class="differs" data-param="lr"' in text
    assert text.count("/api/v1/workspaces/churn/jobs/") >= 2  # a series per run per chart
