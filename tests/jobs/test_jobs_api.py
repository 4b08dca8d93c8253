"""The jobs read API: list, show, update, archive, logs (cursor, no gaps), std_log.txt,
metrics (down-sampled), files, experiments and the runs table."""

from __future__ import annotations

import pytest

from apps.jobs.models import Job, LogLine
from tests.conftest import api_client_for
from tests.matrix.jobs_runs import make_run

pytestmark = pytest.mark.django_db
BASE = "/api/v1/workspaces/churn"


@pytest.fixture
def run(workspace):
    return make_run(
        workspace,
        name="r1",
        metrics={"loss": [1.0, 0.5, 0.25], "acc": [0.5, 0.9]},
        params={"lr": "0.1"},
        logs=["a", "b", "c"],
        files={"outputs/f.txt": b"F"},
    )


def test_list_filters_by_experiment_status_and_search(api, workspace, run):
    make_run(workspace, name="other", experiment="exp2", status="Running")
    names = lambda **q: [r["name"] for r in api.get(f"{BASE}/jobs/", q).json()["results"]]  # noqa: E731
    assert set(names()) == {"r1", "other"}
    assert names(experiment="exp2") == ["other"]
    assert names(status="Completed") == ["r1"]
    assert names(search="oth") == ["other"]


def test_show_has_timeline_params_and_metrics(api, run):
    body = api.get(f"{BASE}/jobs/r1/").json()
    assert body["params"] == {"lr": "0.1"}
    assert body["metrics"] == {"acc": 0.9, "loss": 0.25}
    assert [s["status"] for s in body["status_timeline"]] == ["Running", "Completed"]
    assert body["terminal"] is True


def test_patch_changes_display_name_description_and_tags(api, run):
    answer = api.patch(
        f"{BASE}/jobs/r1/",
        {"display_name": "Best", "description": "d", "tags": {"team": "a"}},
        format="json",
    )
    assert answer.status_code == 200, answer.json()
    job = Job.objects.get(pk=run.pk)
    assert (job.display_name, job.description, job.tags["team"]) == ("Best", "d", "a")


def test_patch_with_a_bad_display_name_names_the_field(api, run):
    answer = api.patch(f"{BASE}/jobs/r1/", {"display_name": "  "}, format="json")
    assert answer.status_code == 400
    assert "display_name" in answer.json()["fields"]


def test_archive_hides_a_job_from_the_list_and_restore_brings_it_back(api, run):
    assert api.post(f"{BASE}/jobs/r1/archive/").status_code == 200
    assert api.get(f"{BASE}/jobs/").json()["results"] == []
    assert api.post(f"{BASE}/jobs/r1/restore/").status_code == 200
    assert len(api.get(f"{BASE}/jobs/").json()["results"]) == 1


def test_logs_page_by_cursor_and_say_when_done(api, run):
    first = api.get(f"{BASE}/jobs/r1/logs/", {"after": 0, "limit": 2}).json()
    assert [line["text"] for line in first["lines"]] == ["a", "b"]
    assert first["cursor"] == 2 and first["done"] is False
    rest = api.get(f"{BASE}/jobs/r1/logs/", {"after": 2}).json()
    assert [line["seq"] for line in rest["lines"]] == [3]
    assert rest["done"] is True and rest["terminal"] is True


def test_a_running_jobs_log_stops_before_a_gap(api, workspace):
    job = make_run(workspace, name="live", status="Running", logs=["1", "2"])
    LogLine.objects.create(job=job, seq=4, stream="stdout", text="4")  # 3 not committed yet
    page = api.get(f"{BASE}/jobs/live/logs/", {"after": 0}).json()
    assert [line["seq"] for line in page["lines"]] == [1, 2]
    assert page["cursor"] == 2 and page["done"] is False
    LogLine.objects.create(job=job, seq=3, stream="stdout", text="3")
    page = api.get(f"{BASE}/jobs/live/logs/", {"after": 2}).json()
    assert [line["seq"] for line in page["lines"]] == [3, 4]


def test_a_bad_cursor_is_a_400_naming_it(api, run):
    answer = api.get(f"{BASE}/jobs/r1/logs/", {"after": "x"})
    assert answer.status_code == 400
    assert "after" in answer.json()["fields"]


def test_std_log_downloads_as_a_text_file(api, run):
    answer = api.get(f"{BASE}/jobs/r1/logs/download")
    assert answer.status_code == 200
    assert b"".join(answer.streaming_content) == b"a\nb\nc\n"
    assert "std_log.txt" in answer["Content-Disposition"]


def test_metrics_list_keys_and_series(api, run):
    keys = api.get(f"{BASE}/jobs/r1/metrics/").json()["metrics"]
    assert [k["key"] for k in keys] == ["acc", "loss"]
    series = api.get(f"{BASE}/jobs/r1/metrics/loss/").json()
    assert series["points"] == [
        [0, 1.0, 1_700_000_000_000],
        [1, 0.5, 1_700_000_001_000],
        [2, 0.25, 1_700_000_002_000],
    ]
    assert series["total"] == 3 and series["sampled"] is False


def test_max_points_out_of_range_is_refused(api, run):
    answer = api.get(f"{BASE}/jobs/r1/metrics/loss/", {"max_points": 1})
    assert answer.status_code == 400 and "max_points" in answer.json()["fields"]


def test_files_list_recursively_and_download(api, run):
    listing = api.get(f"{BASE}/jobs/r1/files/", {"recursive": "true"}).json()
    assert listing["files"] == [{"path": "outputs/f.txt", "size": 1}]
    content = api.get(f"{BASE}/jobs/r1/files/content", {"path": "outputs/f.txt"})
    assert b"".join(content.streaming_content) == b"F"


def test_a_path_escaping_the_job_is_refused(api, run):
    answer = api.get(f"{BASE}/jobs/r1/files/content", {"path": "../../x"})
    assert answer.status_code == 400


def test_experiments_list_counts_runs(api, run):
    rows = api.get(f"{BASE}/experiments/").json()["results"]
    assert [(r["name"], r["run_count"]) for r in rows if r["name"] == "exp1"] == [("exp1", 1)]


def test_runs_table_has_chosen_columns_filters_and_sorts(api, workspace, run):
    make_run(workspace, name="r2", metrics={"loss": [0.1]}, params={"lr": "0.2"})
    make_run(workspace, name="r3", params={"lr": "0.3"})
    url = f"{BASE}/experiments/exp1/runs/"
    body = api.get(url, {"metrics": "loss", "params": "lr", "sort": "metrics.loss"}).json()
    assert [r["name"] for r in body["results"]] == ["r2", "r1", "r3"]  # no value: last
    assert body["results"][0]["metrics"] == {"loss": 0.1}
    assert body["results"][0]["params"] == {"lr": "0.2"}
    desc = api.get(url, {"metrics": "loss", "sort": "-metrics.loss"}).json()
    assert [r["name"] for r in desc["results"]] == ["r1", "r2", "r3"]
    filtered = api.get(url, {"filter": "metrics.loss < 0.2"}).json()
    assert [r["name"] for r in filtered["results"]] == ["r2"]


def test_runs_table_pages_by_cursor_without_repeats(api, workspace):
    for i in range(7):
        make_run(workspace, name=f"p{i}", metrics={"m": [float(i % 3)]})
    url = f"{BASE}/experiments/exp1/runs/"
    seen, cursor = [], ""
    while True:
        body = api.get(url, {"sort": "-metrics.m", "page_size": 3, "cursor": cursor}).json()
        seen += [r["name"] for r in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == [f"p{i}" for i in range(7)] and len(seen) == 7


def test_runs_table_costs_the_same_queries_for_any_page_size(
    workspace, owner, django_assert_num_queries
):
    from apps.jobs import selectors

    for i in range(30):
        make_run(workspace, name=f"q{i}", metrics={"m": [i]}, params={"p": str(i)})
    exp = selectors.experiment_get_named(actor=owner, workspace=workspace, name="exp1")

    def table(size):
        rows, _ = selectors.run_table(
            actor=owner,
            workspace=workspace,
            experiment=exp,
            metrics=["m"],
            params=["p"],
            sort="-metrics.m",
            page_size=size,
        )
        return rows

    with django_assert_num_queries(3):  # the page, the metrics, the params
        assert len(table(5)) == 5
    with django_assert_num_queries(3):
        assert len(table(25)) == 25


def test_a_bad_filter_is_a_400(api, run):
    answer = api.get(f"{BASE}/experiments/exp1/runs/", {"filter": "metrics.loss >>> 1"})
    assert answer.status_code == 400


def test_a_reader_cannot_change_a_job(workspace, reader, run):
    client = api_client_for(reader)
    assert client.patch(f"{BASE}/jobs/r1/", {"description": "x"}, format="json").status_code == 403
    assert client.post(f"{BASE}/jobs/r1/archive/").status_code == 403


def test_runs_without_the_sorted_metric_come_last_across_pages(api, workspace):
    for i in range(5):
        make_run(workspace, name=f"with{i}", metrics={"m": [float(i)]})
    for i in range(3):
        make_run(workspace, name=f"none{i}", metrics={"other": [1.0]})
    url = f"{BASE}/experiments/exp1/runs/"
    seen, cursor = [], ""
    while True:
        body = api.get(url, {"sort": "-metrics.m", "page_size": 3, "cursor": cursor}).json()
        seen += [r["name"] for r in body["results"]]
        cursor = body["next_cursor"]
        if not cursor:
            break
    assert seen[:5] == ["with4", "with3", "with2", "with1", "with0"]
    assert sorted(seen[5:]) == ["none0", "none1", "none2"] and len(seen) == 8
