"""Building environment images on the real Docker engine. The images are tagged by the hash of
their spec and stay on the engine, so the pip and scikit-learn builds happen once per machine
and later runs find them."""

from __future__ import annotations

import io
import time
import zipfile

import pytest
from django.urls import reverse

from apps.assets import builder
from apps.assets.models import ImageBuild
from apps.assets.services import code
from apps.assets.services import environments as envs
from tests.conftest import client_for, require_service

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.docker]


@pytest.fixture
def engine(settings):
    try:
        client = builder.client()
        client.inspect_image(settings.STUDIO_BASE_IMAGE)
    except Exception as exc:  # no engine, or no base image (scripts/base-image.sh builds it)
        require_service("Docker with the base image", False, str(exc))
    return client


def _run(engine, image: str, command: list[str]) -> str:
    container = engine.create_container(image, command=command)
    try:
        engine.start(container)
        assert engine.wait(container, timeout=120)["StatusCode"] == 0, engine.logs(container)
        return engine.logs(container).decode()
    finally:
        engine.remove_container(container, force=True)


def _context_env(owner, workspace, files: dict[str, str], name="ctx"):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path, text in files.items():
            zf.writestr(path, text)
    buf.seek(0)
    snap = code.snapshot_create(actor=owner, workspace=workspace, fileobj=buf)
    return envs.environment_create(actor=owner, workspace=workspace, name=name, build_context=snap)


def test_a_pip_environment_builds_once_and_then_resolves_from_the_engine(engine, owner, workspace):
    env = envs.environment_create(
        actor=owner, workspace=workspace, name="tiny", pip_requirements="six==1.16.0\n"
    )
    lines: list[str] = []
    tag = envs.ensure_image(env, log=lines.append)
    assert tag == f"studio-env:{env.spec_hash}"
    assert "1.16.0" in _run(engine, tag, ["python", "-c", "import six; print(six.__version__)"])
    build = ImageBuild.objects.filter(environment=env).first()
    if build is not None:  # built now (the first run on this machine): the log was kept
        assert build.status == ImageBuild.Status.SUCCEEDED
        assert build.log_lines.count() == build.log_seq == len(lines) > 0
    assert envs.ensure_image(env) == tag  # no second build: the count below is unchanged
    assert ImageBuild.objects.filter(environment=env).count() == (1 if build else 0)


def test_the_curated_sklearn_environment_builds_and_imports(engine, owner, workspace):
    env = envs.environment_resolve(
        actor=owner, workspace=workspace, value="azureml:AzureML-sklearn-1.5@latest"
    )
    tag = envs.ensure_image(env)
    out = _run(
        engine,
        tag,
        ["python", "-c", "import sklearn, pandas, mlflow; print('sklearn', sklearn.__version__)"],
    )
    assert "sklearn 1.5.2" in out


def test_a_failed_build_names_the_failing_step_and_can_be_retried(engine, owner, workspace):
    env = _context_env(
        owner,
        workspace,
        {"Dockerfile": f"FROM {builder.settings.STUDIO_BASE_IMAGE}\nRUN echo hi\nRUN exit 3\n"},
    )
    with pytest.raises(envs.BuildFailed) as info:
        envs.ensure_image(env)
    build = info.value.build
    assert build.status == ImageBuild.Status.FAILED
    assert "RUN exit 3" in build.failed_step
    assert "RUN exit 3" in info.value.message
    assert not builder.image_exists(build.image_tag)
    with pytest.raises(envs.BuildFailed):
        envs.ensure_image(env)
    assert ImageBuild.objects.filter(environment=env, status="Failed").count() == 2


def test_a_build_context_builds_with_the_ca_bundle_available_to_its_run_steps(
    engine, owner, workspace, settings, tmp_path
):
    bundle = tmp_path / "extra-ca.crt"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nstudio-test\n-----END CERTIFICATE-----\n")
    settings.STUDIO_BUILD_CA_BUNDLE = str(bundle)
    env = _context_env(
        owner,
        workspace,
        {
            "Dockerfile": f"FROM {settings.STUDIO_BASE_IMAGE}\n"
            'RUN grep -q studio-test "$PIP_CERT" && test "$REQUESTS_CA_BUNDLE" = "$PIP_CERT"\n'
            "COPY a.txt /a.txt\n",
            "a.txt": str(time.time()),  # a new spec each run: this test always builds
        },
    )
    lines: list[str] = []
    tag = envs.ensure_image(env, log=lines.append)
    try:
        assert any(line.startswith("Step 2/") for line in lines)
        # Build arguments only: the variables are not in the image's environment.
        assert "PIP_CERT" not in _run(engine, tag, ["env"])
        # A forced rebuild builds again, however the image is there.
        envs.ensure_image(env, force=True)
        assert ImageBuild.objects.filter(environment=env, forced=True, status="Succeeded").exists()
    finally:
        builder.remove_image(tag)


def test_an_image_environment_whose_image_is_missing_says_so_and_never_pulls(
    engine, owner, workspace
):
    env = envs.environment_create(
        actor=owner, workspace=workspace, name="img", image="studio-test/not-here:1"
    )
    with pytest.raises(envs.ImageUnavailable) as info:
        envs.ensure_image(env)
    assert "not on this Docker engine" in info.value.message
    assert "never pulls" in info.value.message


def test_an_image_environment_whose_image_exists_is_used_as_it_is(engine, owner, workspace):
    env = envs.environment_resolve(actor=owner, workspace=workspace, value="AzureML-python-3.11")
    assert envs.ensure_image(env) == builder.settings.STUDIO_BASE_IMAGE


def test_a_conda_environment_installs_its_pip_dependencies_and_checks_python(
    engine, owner, workspace
):
    env = envs.environment_create(
        actor=owner,
        workspace=workspace,
        name="conda",
        image="mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest",
        conda_file="dependencies:\n  - python=3.10\n  - pip\n  - pip:\n      - six==1.16.0\n",
    )
    lines: list[str] = []
    tag = envs.ensure_image(env, log=lines.append)
    if lines:  # built now: the python check said what it found
        assert any("conda file asks for python 3.10, the image has 3.11" in line for line in lines)
    assert "1.16.0" in _run(engine, tag, ["python", "-c", "import six; print(six.__version__)"])


def test_the_build_section_says_so_when_another_environment_s_build_left_the_image(
    engine, settings, owner, workspace
):
    """Images are named by their spec's hash: a second environment (or workspace) with the same
    spec runs on the first one's image without a build, and its page must not say 'not built'."""
    env = envs.environment_create(
        actor=owner, workspace=workspace, name="shared",
        pip_requirements="six==1.16.0 ; python_version >= '3.8'\n",
    )  # fmt: skip
    url = reverse("assets:environment-build", args=["churn", "shared", "1"])
    before = client_for(owner).get(url).content.decode()
    assert "not built" in before and "Build now" in before
    tag = envs.image_tag(env)
    engine.tag(settings.STUDIO_BASE_IMAGE, *tag.split(":"))
    try:
        after = client_for(owner).get(url).content.decode()
    finally:
        engine.remove_image(tag)
    assert "on the engine" in after and "not built" not in after
    assert "Rebuild" in after and 'name="force" value="1"' in after


def test_asking_an_engine_that_does_not_answer_gives_none_quickly(monkeypatch):
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: nothing listens
    assert builder.image_on_engine("studio-env:nothing", timeout=1) is None
