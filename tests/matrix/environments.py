"""Matrix rows: the environments kind's own routes (create, build, build log)."""

import pytest

from . import api_expect, expect

PAGE = expect(200, compute_operator=403)
CREATE_PAGE = expect(403, owner=200, contributor=200, data_scientist=200)
CHANGE = expect(403, owner=302, contributor=302, data_scientist=302)
VER = "/w/churn/environments/tiny/versions/1/"
API_BASE = "/api/v1/workspaces/churn/environments/"
API_VER = f"{API_BASE}tiny/versions/1/"
NEW = {"name": "matrix-env", "image": "studio-base:bookworm-py311-r2"}

HTML = [
    ("assets:environment-create", "get", "/w/churn/environments/-/new/", None, CREATE_PAGE),
    (
        "assets:environment-create",
        "post",
        "/w/churn/environments/-/new/",
        {**NEW, "source": "image"},
        CHANGE,
    ),
    ("assets:environment-build", "get", f"{VER}build/", None, PAGE),
    ("assets:environment-build", "post", f"{VER}build/", {"force": "1"}, CHANGE),
    ("assets:environment-build-log", "get", f"{VER}build/log/?after=0", None, PAGE),
]

API = [
    (
        "api:environment-list",
        "post",
        API_BASE,
        NEW,
        api_expect(403, owner=201, contributor=201, data_scientist=201),
    ),
    (
        "api:environment-build",
        "get",
        f"{API_VER}build/",
        None,
        api_expect(200, compute_operator=403),
    ),
    (
        "api:environment-build",
        "post",
        f"{API_VER}build/",
        {"force": True},
        api_expect(403, owner=202, contributor=202, data_scientist=202),
    ),
]

FIXTURES = {
    f"{VER}build/": ("matrix_environment",),
    f"{VER}build/log/?after=0": ("matrix_environment",),
    f"{API_VER}build/": ("matrix_environment",),
}


@pytest.fixture
def matrix_environment(workspace):
    """The pip environment `tiny` version 1 of `churn`, with one finished build."""
    from apps.assets.models import ImageBuild
    from apps.assets.services import environments

    env = environments.environment_create(
        actor=workspace.created_by, workspace=workspace, name="tiny", pip_requirements="six\n"
    )
    build = ImageBuild.objects.create(
        workspace=workspace,
        environment=env,
        spec_hash=env.spec_hash,
        image_tag=environments.image_tag(env),
        status=ImageBuild.Status.SUCCEEDED,
        log_seq=1,
    )
    build.log_lines.create(seq=1, text="built")
    return env
