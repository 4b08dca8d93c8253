"""What every asset kind shares: numbering, immutability, archive, labels, references."""

from __future__ import annotations

import io
import zipfile

import pytest

from apps.assets import commands, references, selectors
from apps.assets.models import Asset, DataVersion, Kind
from apps.assets.services import code, versions
from studio.errors import Conflict, NotFound, PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db


def _data(actor, workspace, name="iris", version=None, **kw):
    return versions.version_create(
        actor=actor,
        workspace=workspace,
        kind=Kind.DATA,
        name=name,
        version=version,
        fields={"type": "uri_file", "path": "https://example.org/iris.csv"},
        **kw,
    )


def test_versions_are_numbered_from_one_when_left_out(owner, workspace):
    assert [_data(owner, workspace).version for _ in range(3)] == ["1", "2", "3"]
    asset = Asset.objects.get(workspace=workspace, kind=Kind.DATA, name="iris")
    assert (asset.latest_version, asset.version_count, asset.next_version) == ("3", 3, 4)


def test_an_explicit_integer_version_moves_the_counter_past_it(owner, workspace):
    _data(owner, workspace, version=10)
    assert _data(owner, workspace).version == "11"


def test_a_duplicate_version_is_a_conflict_naming_the_field(owner, workspace):
    _data(owner, workspace, version="1")
    with pytest.raises(Conflict) as info:
        _data(owner, workspace, version="1")
    assert "version" in info.value.fields
    assert DataVersion.objects.count() == 1


def test_a_bad_name_names_the_field(owner, workspace):
    with pytest.raises(ValidationError) as info:
        _data(owner, workspace, name="-bad name")
    assert "name" in info.value.fields
    assert not Asset.objects.exists()


def test_a_reader_cannot_create_and_an_outsider_sees_nothing(reader, outsider, workspace):
    with pytest.raises(PermissionDenied):
        _data(reader, workspace)
    with pytest.raises(NotFound):
        _data(outsider, workspace)


def test_archived_versions_leave_latest_but_stay_usable_by_exact_version(owner, workspace):
    one, two = _data(owner, workspace), _data(owner, workspace)
    versions.version_set_archived(actor=owner, row=two, archived=True)
    found = selectors.resolve(actor=owner, workspace=workspace, kind=Kind.DATA, ref="iris@latest")
    assert found.pk == one.pk
    exact = selectors.resolve(
        actor=owner, workspace=workspace, kind=Kind.DATA, ref="azureml:iris:2"
    )
    assert exact.pk == two.pk
    versions.version_set_archived(actor=owner, row=one, archived=True)
    assert not selectors.asset_list(actor=owner, workspace=workspace, kind=Kind.DATA).exists()
    with pytest.raises(ValidationError, match="archived"):
        selectors.resolve(
            actor=owner, workspace=workspace, kind=Kind.DATA, ref="azureml:iris@latest"
        )


def test_labels_point_at_versions(owner, workspace):
    _data(owner, workspace)
    row = _data(owner, workspace)
    asset = Asset.objects.get(name="iris")
    versions.label_set(actor=owner, asset=asset, label="champion", version="1")
    found = selectors.resolve(actor=owner, workspace=workspace, kind=Kind.DATA, ref="iris@champion")
    assert found.version == "1" and row.version == "2"


@pytest.mark.parametrize(
    "text,name,version,label",
    [
        ("azureml:iris:3", "iris", "3", None),
        ("iris:3", "iris", "3", None),
        ("azureml:iris@latest", "iris", None, "latest"),
        ("iris@latest", "iris", None, "latest"),
        ("azureml:iris", "iris", None, "latest"),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/labels/latest",
            "sklearn-1.5",
            None,
            "latest",
        ),
        (
            "azureml://registries/azureml/environments/sklearn-1.5/versions/7",
            "sklearn-1.5",
            "7",
            None,
        ),
        (
            "azureml:/subscriptions/s/resourceGroups/rg/providers/"
            "Microsoft.MachineLearningServices/workspaces/w/data/iris/versions/2",
            "iris",
            "2",
            None,
        ),
    ],
)
def test_references_parse_as_azure_writes_them(text, name, version, label):
    ref = references.parse(text)
    assert (ref.name, ref.version, ref.label) == (name, version, label)


def test_a_uri_is_not_a_reference():
    with pytest.raises(references.ReferenceError_):
        references.parse("azureml://datastores/x/paths/y")


def test_commands_validate_and_render_optional_parts():
    inputs = {"data": {"type": "uri_folder"}, "epochs": {"type": "integer", "optional": True}}
    outputs = {"model": {"type": "uri_folder"}}
    cmd = "python train.py --data ${{inputs.data}} $[[--epochs ${{inputs.epochs}}]] --out ${{outputs.model}}"
    commands.validate(cmd, inputs=inputs, outputs=outputs)
    rendered = commands.render(
        cmd, {"inputs": {"data": "/in", "epochs": None}, "outputs": {"model": "/out"}}
    )
    assert rendered == "python train.py --data /in --out /out"
    rendered = commands.render(
        cmd, {"inputs": {"data": "/in", "epochs": "3"}, "outputs": {"model": "/out"}}
    )
    assert rendered == "python train.py --data /in --epochs 3 --out /out"


@pytest.mark.parametrize(
    "cmd,message",
    [
        ("python x.py ${{inputs.nope}}", "not declared"),
        ("python x.py ${{inputs.epochs}}", "optional"),
        ("python x.py $[[--e ${{inputs.epochs}}", "not closed"),
        ("python x.py ${{input.data}}", "only"),
        ("python x.py ${{ foo }}", "not a placeholder"),
    ],
)
def test_bad_commands_are_refused_with_the_reason(cmd, message):
    inputs = {"data": {"type": "uri_folder"}, "epochs": {"type": "integer", "optional": True}}
    with pytest.raises(ValidationError, match=message):
        commands.validate(cmd, inputs=inputs, outputs={})


def _zip(files: dict[str, bytes], *, names=None) -> io.BytesIO:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(name, data)
    buf.seek(0)
    return buf


def test_the_same_files_make_one_snapshot(owner, workspace, tmp_path):
    a = code.snapshot_create(
        actor=owner, workspace=workspace, fileobj=_zip({"a.py": b"1", "b/c.py": b"2"})
    )
    b = code.snapshot_create(
        actor=owner, workspace=workspace, fileobj=_zip({"b/c.py": b"2", "a.py": b"1"})
    )
    assert a.pk == b.pk and a.file_count == 2
    code.snapshot_extract(a, tmp_path)
    assert (tmp_path / "b" / "c.py").read_bytes() == b"2"
    assert code.snapshot_read(actor=owner, snapshot=a, path="a.py") == b"1"


@pytest.mark.parametrize("bad", ["../evil.py", "/etc/passwd", "a/../../x"])
def test_archives_that_leave_the_folder_are_refused(owner, workspace, bad):
    with pytest.raises(ValidationError, match="absolute|leaves"):
        code.snapshot_create(actor=owner, workspace=workspace, fileobj=_zip({bad: b"x"}))


def test_a_snapshot_over_the_limit_is_refused(owner, workspace, settings):
    settings.STUDIO_CODE_MAX_BYTES = 10
    with pytest.raises(ValidationError, match="limit"):
        code.snapshot_create(actor=owner, workspace=workspace, fileobj=_zip({"a": b"x" * 100}))


def test_zip_folder_honours_amlignore(tmp_path):
    from studio.codezip import iter_files

    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "train.py").write_text("x")
    (tmp_path / "data.csv").write_text("x")
    (tmp_path / ".gitignore").write_text("src/\n")
    (tmp_path / ".amlignore").write_text("*.csv\n")
    assert iter_files(tmp_path) == [".gitignore", "src/train.py"]
