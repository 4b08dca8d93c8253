"""The curated environments that ship with the studio, and the alias table that maps Azure
ML's curated names onto them.

A curated environment is created in a workspace the first time a job, a component or a user
names it (`is_curated=True`, created by the system), and its image is built the first time
it runs. Azure's curated environments are large images on a registry the studio cannot reach;
the studio offers a few small ones instead and resolves Azure's names to the closest one
(docs/environments.md lists the table). Pure data: no database, no Docker.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from django.conf import settings


@dataclass(frozen=True)
class Curated:
    name: str  # the environment's name in a workspace
    version: str  # bump it whenever the spec below changes
    description: str
    pip_requirements: str = ""  # empty: the base image as it is

    def fields(self) -> dict:
        """The spec as environment-create fields (on the configured base image)."""
        if self.pip_requirements:
            return {
                "image": settings.STUDIO_BASE_IMAGE,
                "pip_requirements": self.pip_requirements,
            }
        return {"image": settings.STUDIO_BASE_IMAGE}


PYTHON = Curated(
    name="AzureML-python-3.11",
    version="1",
    description="Python 3.11 with pip, on the studio's base image (no extra packages).",
)
SKLEARN = Curated(
    name="AzureML-sklearn-1.5",
    # 2: skops added (MLflow's default format for scikit-learn models needs it).
    # 3: pyarrow added (pandas' Parquet engine: the Designer's built-ins read Parquet tables).
    # 4: matplotlib added (`mlflow.autolog()` draws a classifier's confusion matrix, and a
    #    binary one's ROC and PR curves, with it; without it, it skips them with a warning).
    version="4",
    description=(
        "Python 3.11 with pandas, pyarrow, scikit-learn 1.5, matplotlib and mlflow-skinny: "
        "the studio's stand-in for Azure's sklearn curated environments."
    ),
    pip_requirements=(
        "pandas==2.2.3\npyarrow==26.0.1\nscikit-learn==1.5.2\nmlflow-skinny==3.17.2\n"
        "skops==0.16.0\nmatplotlib==3.10.8\n"
    ),
)

CURATED: dict[str, Curated] = {c.name.lower(): c for c in (PYTHON, SKLEARN)}

# Azure ML curated names (workspace form `AzureML-<name>` or registry form
# `azureml://registries/azureml/environments/<name>/...`) -> the closest studio one. Matched
# case-insensitively against the name with any `AzureML-` prefix removed; first match wins.
ALIASES: list[tuple[str, Curated]] = [
    (r"sklearn(-.*)?", SKLEARN),
    (r"scikit-learn(-.*)?", SKLEARN),
    (r"lightgbm(-.*)?", SKLEARN),
    (r"mlflow(-.*)?", SKLEARN),
    (r"responsibleai(-.*)?", SKLEARN),
    (r"ai-ml-automl(-.*)?", SKLEARN),
    (r"automl(-.*)?", SKLEARN),
    (r"python-3\.\d+", PYTHON),
    (r"py3\d+(-.*)?", PYTHON),
    (r"minimal(-.*)?", PYTHON),
    (r"designer(-.*)?", PYTHON),
    (r"openmpi.*", PYTHON),
]
_ALIASES = [(re.compile(rf"^{pattern}$", re.IGNORECASE), target) for pattern, target in ALIASES]

# The registry whose environments are Azure's curated ones.
CURATED_REGISTRY = "azureml"


def lookup(name: str, *, registry: bool = False) -> Curated | None:
    """The curated environment `name` means: a studio curated name as it is, or an Azure
    curated name (`AzureML-...`, or any name from the azureml registry) through the aliases.
    None when it is neither."""
    key = name.strip().lower()
    if key in CURATED:
        return CURATED[key]
    if key.startswith("azureml-"):
        key = key[len("azureml-") :]
    elif not registry:
        return None
    for pattern, target in _ALIASES:
        if pattern.match(key):
            return target
    return None


def names() -> list[str]:
    return [c.name for c in CURATED.values()]


# Azure ML base images (Ubuntu with conda, on mcr.microsoft.com) are out of reach; a conda or
# pip environment on one of them builds on the studio's base image instead.
AZURE_BASE_IMAGE = re.compile(r"^mcr\.microsoft\.com/azureml/", re.IGNORECASE)


def effective_base_image(image: str) -> str:
    """The image a conda or pip environment is built on, given the one it names."""
    image = (image or "").strip()
    if not image or AZURE_BASE_IMAGE.match(image):
        return settings.STUDIO_BASE_IMAGE
    return image
