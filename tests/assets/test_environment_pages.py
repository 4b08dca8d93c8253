"""The environment pages: create, the version page's panel, the build section and its live
log tail."""

from __future__ import annotations

import pytest
from django.urls import reverse

from apps.assets import builder
from apps.assets.models import EnvironmentVersion, ImageBuild
from apps.assets.services import environments as envs
from tests.conftest import client_for

pytestmark = pytest.mark.django_db


def _tiny(owner, workspace):
    return envs.environment_create(
        actor=owner, workspace=workspace, name="tiny", pip_requirements="six\n"
    )


def _build(env, status, lines: int):
    build = ImageBuild.objects.create(
        workspace=env.workspace,
        environment=env,
        spec_hash=env.spec_hash,
        image_tag=envs.image_tag(env),
        status=status,
        log_seq=lines,
        failed_step="Step 3/5 : RUN pip install six" if status == "Failed" else "",
    )
    for seq in range(1, lines + 1):
        build.log_lines.create(seq=seq, text=f"line {seq}")
    return build


def test_the_create_page_makes_a_pip_environment_and_goes_to_it(owner, workspace):
    url = reverse("assets:environment-create", args=["churn"])
    page = client_for(owner).get(url)
    assert b"pip requirements" in page.content
    r = client_for(owner).post(
        url, {"name": "tiny", "source": "pip", "pip_requirements": "six\nattrs\n"}
    )
    assert r.status_code == 302
    assert r["Location"].endswith("/environments/tiny/versions/1/")
    assert EnvironmentVersion.objects.get(name="tiny").source == "pip"


def test_a_conda_only_package_rerenders_the_form_with_422_next_to_the_field(owner, workspace):
    r = client_for(owner).post(
        reverse("assets:environment-create", args=["churn"]),
        {
            "name": "gpu",
            "source": "conda",
            "conda_file": "dependencies:\n  - python=3.11\n  - cudatoolkit\n",
        },
        HTTP_HX_REQUEST="true",
    )
    assert r.status_code == 422
    assert b"cudatoolkit" in r.content and b"conda-only" in r.content
    assert not EnvironmentVersion.objects.exists()


def test_the_version_page_shows_the_spec_and_loads_the_build_section(
    reader, owner, workspace, monkeypatch
):
    # whether some other test left this spec's image on the engine is not this test's matter
    # (tests/assets/test_environment_build.py covers the engine's answer)
    monkeypatch.setattr(builder, "image_on_engine", lambda tag, **kw: False)
    env = _tiny(owner, workspace)
    page = client_for(reader).get(
        reverse("assets:version-detail", args=["churn", "environments", "tiny", "1"])
    )
    assert page.status_code == 200
    assert b"requirements.txt" in page.content
    assert reverse("assets:environment-build", args=["churn", "tiny", "1"]).encode() in page.content
    section = client_for(reader).get(
        reverse("assets:environment-build", args=["churn", "tiny", "1"])
    )
    assert envs.image_tag(env).encode() in section.content
    assert b"not built" in section.content
    assert b"disabled" in section.content  # a Reader may not build


def test_the_log_tail_polls_while_building_and_stops_when_the_build_has_ended(owner, workspace):
    env = _tiny(owner, workspace)
    build = _build(env, "Running", 3)
    url = reverse("assets:environment-build-log", args=["churn", "tiny", "1"])
    client = client_for(owner)
    r = client.get(url, {"build": build.pk, "after": 1})
    assert b"line 2" in r.content and b"line 1<" not in r.content
    assert b'class="poller"' in r.content and b"after=3" in r.content
    build.status, build.failed_step = "Failed", "Step 3/5 : RUN pip install six"
    build.save()
    done = client.get(url, {"build": build.pk, "after": 3})
    assert b'class="poller"' not in done.content
    assert b"failed" in done.content
    section = client.get(reverse("assets:environment-build", args=["churn", "tiny", "1"]))
    assert b"Step 3/5 : RUN pip install six" in section.content
    assert b"Rebuild" in section.content


def test_the_rebuild_button_queues_a_forced_build(
    owner, workspace, django_capture_on_commit_callbacks
):
    env = _tiny(owner, workspace)
    _build(env, "Failed", 1)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        r = client_for(owner).post(
            reverse("assets:environment-build", args=["churn", "tiny", "1"]),
            {"force": "1"},
            HTTP_HX_REQUEST="true",
        )
    assert r.status_code == 200
    assert len(callbacks) == 1  # the task is sent once the transaction commits
    newest = ImageBuild.objects.filter(environment=env).order_by("-created_at").first()
    assert (newest.status, newest.forced) == ("Queued", True)
    assert b"Queued" in r.content


def _three_kinds(owner, workspace):
    """A custom environment, a curated one (added on first use) and an anonymous one (an
    inline environment of a job)."""
    _tiny(owner, workspace)
    curated = envs.environment_resolve(
        actor=owner, workspace=workspace, value="azureml:AzureML-sklearn-1.5@latest"
    )
    anonymous = envs.environment_resolve(
        actor=owner, workspace=workspace, value={"image": "python:3.11-slim"}
    )
    return curated, anonymous


def test_the_list_has_custom_and_curated_tabs_and_hides_anonymous_ones(owner, workspace):
    curated, anonymous = _three_kinds(owner, workspace)
    client = client_for(owner)
    custom_tab = client.get("/w/churn/environments/").content.decode()
    assert 'data-asset="tiny"' in custom_tab
    assert f'data-asset="{curated.name}"' not in custom_tab
    assert f'data-asset="{anonymous.name}"' not in custom_tab
    assert ">Custom environments</a>" in custom_tab and ">Curated environments</a>" in custom_tab
    assert "Anonymous environments" not in custom_tab
    curated_tab = client.get("/w/churn/environments/?kind=curated").content.decode()
    assert f'data-asset="{curated.name}"' in curated_tab and 'data-asset="tiny"' not in curated_tab
    assert 'href="?kind=curated" class="active"' in curated_tab
    assert "&amp;kind=curated" in curated_tab  # the sort links keep the tab
    # Searching within a tab, as the HTMX fragment, keeps to that tab.
    found = client.get(
        "/w/churn/environments/?kind=curated&q=sklearn", HTTP_HX_REQUEST="true"
    ).content.decode()
    assert f'data-asset="{curated.name}"' in found and "<nav" not in found
    assert (
        'data-asset="tiny"'
        not in client.get("/w/churn/environments/?kind=curated&q=tiny").content.decode()
    )


def test_an_anonymous_environment_is_still_reachable_by_link(owner, workspace):
    _curated, anonymous = _three_kinds(owner, workspace)
    client = client_for(owner)
    page = client.get(f"/w/churn/environments/{anonymous.name}/versions/{anonymous.version}/")
    assert page.status_code == 200 and anonymous.version in page.content.decode()
    listed = client.get("/w/churn/environments/?kind=anonymous").content.decode()
    assert f'data-asset="{anonymous.name}"' in listed and 'data-asset="tiny"' not in listed
    # An unknown kind is the default tab, not an error page.
    assert 'data-asset="tiny"' in client.get("/w/churn/environments/?kind=x").content.decode()


def test_an_empty_curated_tab_says_how_curated_environments_arrive(owner, workspace):
    _tiny(owner, workspace)
    page = client_for(owner).get("/w/churn/environments/?kind=curated").content.decode()
    assert "No curated environments yet" in page and "first time a job" in page
