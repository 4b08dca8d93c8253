"""The Designer's built-in components and sample datasets, registered in every workspace.

Built-in components (`apps/designer/builtin/<name>/component.yml` and its script) are
ordinary command components: `builtin_components_ensure()` snapshots each folder (with its
`additional_includes`, the helpers in `builtin/_shared/`) and registers a ComponentVersion
(`is_builtin=True`, created by the system). It is idempotent: when the latest built-in
version of a name has the same code snapshot and environment, nothing is written; a changed
script or YAML gives the next version number.

Sample datasets (`sample-iris`, `sample-wine`, `sample-breast-cancer`, `sample-diabetes`)
are the tables scikit-learn ships, written as `data.csv` with an MLTable file to the
workspace's default datastore and registered as mltable data assets, version 1.

Both run after a workspace is created (task `designer.ensure_builtins`) and from
`python manage.py ensure_builtins [--workspace NAME]`. See docs/designer-components.md.
"""

from __future__ import annotations

import io
import logging
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml
from django.db import transaction

from apps.assets import commands
from apps.assets.models import ComponentVersion, DataVersion, Kind
from apps.assets.services import code as code_services
from apps.assets.services import components as component_services
from apps.assets.services import data as data_services
from apps.assets.services import versions
from apps.assets.services.environments import environment_resolve
from apps.workspaces import storage
from apps.workspaces.models import Workspace
from studio.codezip import iter_files
from studio.errors import Conflict

log = logging.getLogger(__name__)

BUILTIN_ROOT = Path(__file__).resolve().parent / "builtin"
COMPONENT_FILE = "component.yml"


# Components --------------------------------------------------------------------------------


# The built-ins' table inputs: uri_folder inputs their script reads with
# designer_io.read_dataset, a folder holding the table or one CSV, TSV or Parquet file. In the
# Designer such an input also takes a uri_file data asset (graph.TABLE_TAKES); the other
# data inputs (Train Model's untrained model, the script bundle) stay folders only.
TABLE_INPUTS: dict[str, frozenset[str]] = {
    "clean_missing_data": frozenset({"dataset"}),
    "evaluate_model": frozenset({"scored_dataset"}),
    "execute_python_script": frozenset({"dataset1", "dataset2"}),
    "normalize_data": frozenset({"dataset"}),
    "score_model": frozenset({"dataset"}),
    "select_columns_in_dataset": frozenset({"dataset"}),
    "split_data": frozenset({"dataset"}),
    "train_model": frozenset({"dataset"}),
}


def table_inputs(row: ComponentVersion | None) -> frozenset[str]:
    """The table inputs of this component version (none unless it is a built-in); the
    pipelines service binds a uri_file to them too."""
    if row is None or not row.is_builtin:
        return frozenset()
    return TABLE_INPUTS.get(row.name, frozenset())


def is_table_input(row: ComponentVersion | None, name: str) -> bool:
    """Whether input `name` of this component version is a built-in's table input."""
    return name in table_inputs(row)


def component_folders() -> list[Path]:
    """Every built-in component's folder (folders starting with '_' hold shared code)."""
    return sorted(
        p for p in BUILTIN_ROOT.iterdir() if p.is_dir() and (p / COMPONENT_FILE).is_file()
    )


def definition(folder: Path) -> dict:
    """The component YAML as a mapping (`$schema` dropped, as the CLI drops it)."""
    data = yaml.safe_load((folder / COMPONENT_FILE).read_text(encoding="utf-8"))
    data.pop("$schema", None)
    return data


def assemble(folder: Path, dest: Path) -> Path:
    """The component's code as its job sees it: the folder's files plus each
    `additional_includes` entry copied to the top (what the CLI does before uploading)."""
    dest.mkdir(parents=True, exist_ok=True)
    for rel in iter_files(folder):
        target = dest / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(folder / rel, target)
    for include in definition(folder).get("additional_includes") or []:
        source = (folder / include).resolve()
        if not source.is_relative_to(BUILTIN_ROOT) or not source.exists():
            raise ValueError(f"{folder.name}: additional include '{include}' is not in builtin/")
        if source.is_dir():
            shutil.copytree(source, dest / source.name, dirs_exist_ok=True)
        else:
            shutil.copy2(source, dest / source.name)
    return dest


def _snapshot(workspace: Workspace, folder: Path):
    with tempfile.TemporaryDirectory(prefix="studio-builtin-") as tmp:
        code = assemble(folder, Path(tmp) / "code")
        return code_services.snapshot_from_folder(actor=None, workspace=workspace, folder=code)


def _latest_builtin(workspace: Workspace, name: str) -> ComponentVersion | None:
    return (
        ComponentVersion.objects.filter(workspace=workspace, name=name, is_builtin=True)
        .order_by("-created_at", "-id")
        .first()
    )


def builtin_component_ensure(
    *, workspace: Workspace, folder: Path
) -> tuple[ComponentVersion, bool]:
    """Register one built-in component unless its latest built-in version already has this
    code and environment. Returns (the version, whether it was created). Internal: no actor
    (the system registers built-ins in every workspace)."""
    data = definition(folder)
    inputs = component_services.clean_inputs(data.get("inputs"))
    outputs = component_services.clean_outputs(data.get("outputs"))
    command = commands.validate(data.get("command"), inputs=inputs, outputs=outputs)
    snapshot = _snapshot(workspace, folder)
    with transaction.atomic():
        # One ensure per workspace at a time (the task and the command may overlap).
        Workspace.objects.select_for_update().get(pk=workspace.pk)
        environment = environment_resolve(
            actor=None, workspace=workspace, value=data["environment"]
        )
        latest = _latest_builtin(workspace, data["name"])
        if latest and latest.code_id == snapshot.pk and latest.environment_id == environment.pk:
            return latest, False
        spec = {
            "type": "command",
            "command": command,
            "inputs": inputs,
            "outputs": outputs,
            "environment": environment.reference,
            "code": str(snapshot.pk),
            "is_deterministic": data.get("is_deterministic", True),
            "additional_includes": data.get("additional_includes") or [],
        }
        row = versions.version_create(
            actor=None,
            workspace=workspace,
            kind=Kind.COMPONENT,
            name=data["name"],
            description=data.get("description", ""),
            tags={**(data.get("tags") or {}), "builtin": "true"},
            properties={"builtin_folder": folder.name, "code_hash": snapshot.content_hash},
            fields={
                "type": "command",
                "display_name": data.get("display_name", ""),
                "is_deterministic": spec["is_deterministic"],
                "command": command,
                "inputs": inputs,
                "outputs": outputs,
                "environment": environment,
                "code": snapshot,
                "spec": spec,
                "is_builtin": True,
            },
        )
    log.info("registered built-in component %s:%s in %s", row.name, row.version, workspace.name)
    return row, True


def builtin_components_ensure(*, workspace: Workspace) -> list[ComponentVersion]:
    """Every built-in component registered in the workspace (see the module's docstring)."""
    return [
        builtin_component_ensure(workspace=workspace, folder=folder)[0]
        for folder in component_folders()
    ]


# Sample datasets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sample:
    name: str  # the data asset's name
    loader: str  # the sklearn.datasets function
    task: str
    description: str


SAMPLES = (
    Sample(
        "sample-iris",
        "load_iris",
        "classification",
        "Iris flowers (150 rows): four measurements in cm; target is the species "
        "(0 setosa, 1 versicolor, 2 virginica).",
    ),
    Sample(
        "sample-wine",
        "load_wine",
        "classification",
        "Wine recognition (178 rows): 13 chemical measurements; target is the cultivar (0-2).",
    ),
    Sample(
        "sample-breast-cancer",
        "load_breast_cancer",
        "classification",
        "Breast cancer Wisconsin (569 rows): 30 features of cell nuclei; target is 1 for "
        "benign, 0 for malignant.",
    ),
    Sample(
        "sample-diabetes",
        "load_diabetes",
        "regression",
        "Diabetes (442 rows): age, sex, BMI, blood pressure and six serum measurements "
        "(scaled); target is disease progression one year later.",
    ),
)
SAMPLE_VERSION = "1"
SAMPLE_PREFIX = "samples"


def column_name(text: str) -> str:
    """A column name that needs no quoting: 'mean radius' -> 'mean_radius',
    'sepal length (cm)' -> 'sepal_length_cm'."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", str(text)).strip("_").lower()


def sample_frame(sample: Sample):
    """The sample as a DataFrame: features with plain column names, then `target`."""
    from sklearn import datasets

    bunch = getattr(datasets, sample.loader)(as_frame=True)
    frame = bunch.frame.copy()
    frame.columns = [column_name(c) for c in frame.columns]
    return frame


def _write_sample(workspace: Workspace, sample: Sample) -> str:
    """The sample's folder on the default datastore (data.csv and MLTable); its URI."""
    datastore = data_services.default_datastore(workspace)
    store = storage.open_store(datastore)
    folder = f"{SAMPLE_PREFIX}/{sample.name}/{SAMPLE_VERSION}"
    text = sample_frame(sample).to_csv(index=False)
    store.write_stream(f"{folder}/data.csv", io.BytesIO(text.encode()))
    mltable = (
        "paths:\n  - file: ./data.csv\ntransformations:\n  - read_delimited:\n"
        "      delimiter: ','\n      encoding: utf8\n      header: all_files_same_headers\n"
    )
    store.write_stream(f"{folder}/{data_services.MLTABLE_FILE}", io.BytesIO(mltable.encode()))
    return storage.uri(datastore.name, folder + "/")


def sample_datasets_ensure(*, workspace: Workspace) -> list[DataVersion]:
    """The four sample datasets registered in the workspace (version 1 of each, written once;
    an existing version is left as it is, archived or not). Internal: no actor."""
    rows = []
    for sample in SAMPLES:
        row = DataVersion.objects.filter(
            workspace=workspace, name=sample.name, version=SAMPLE_VERSION
        ).first()
        if row is None:
            uri = _write_sample(workspace, sample)
            try:
                row = data_services.data_create(
                    actor=None,
                    workspace=workspace,
                    name=sample.name,
                    path=uri,
                    type=DataVersion.Type.MLTABLE,
                    version=SAMPLE_VERSION,
                    description=sample.description,
                    tags={"sample": "true", "label_column": "target", "task": sample.task},
                )
            except Conflict:  # registered at the same moment by another ensure
                row = DataVersion.objects.get(
                    workspace=workspace, name=sample.name, version=SAMPLE_VERSION
                )
        rows.append(row)
    return rows


def builtins_ensure(*, workspace: Workspace) -> dict:
    """Both: the built-in components and the sample datasets. A summary for the caller."""
    components = builtin_components_ensure(workspace=workspace)
    samples = sample_datasets_ensure(workspace=workspace)
    return {
        "components": [f"{c.name}:{c.version}" for c in components],
        "data": [f"{d.name}:{d.version}" for d in samples],
    }
