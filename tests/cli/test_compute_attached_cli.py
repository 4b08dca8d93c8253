"""`studio compute create --file` with an attached engine's `remote` and `studio_url`."""

from __future__ import annotations

import pytest

from apps.workspaces.models import Compute
from tests.cli.conftest import error_line
from tests.compute.conftest import docker_url  # noqa: F401 - a fixture

ATTACHED_YAML = """\
name: gpu-box
type: attached
url: {url}
max_instances: 2
remote: true
studio_url: {studio_url}
"""


@pytest.mark.django_db(transaction=True)
def test_studio_compute_create_file_takes_them_and_names_the_line_of_a_bad_one(
    studio,
    workspace,
    owner,
    tmp_path,
    docker_url,  # noqa: F811
):
    env = {"STUDIO_WORKSPACE": "churn"}
    path = tmp_path / "bad.yml"
    path.write_text(ATTACHED_YAML.format(url=docker_url, studio_url="ftp://studio"))
    result = studio("compute", "create", "-f", str(path), user=owner, env=env)
    assert result.exit_code == 2
    assert error_line(result).startswith(f"error: {path}:6: studio_url: Must be http(s)://")
    path = tmp_path / "good.yml"
    path.write_text(ATTACHED_YAML.format(url=docker_url, studio_url="http://10.0.0.2:8000"))
    result = studio("compute", "create", "-f", str(path), user=owner, env=env)
    assert result.exit_code == 0, result.output
    compute = Compute.objects.get(name="gpu-box")
    assert compute.config["remote"] is True
    assert compute.config["studio_url"] == "http://10.0.0.2:8000"
