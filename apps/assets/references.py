"""Asset references as Azure ML CLI v2 writes them, parsed into (name, version | label).

Accepted forms (azureml-yaml.md §1.2):
- `azureml:<name>:<version>`, `<name>:<version>`
- `azureml:<name>@<label>`, `<name>@<label>` (`latest` is the label every asset has)
- `azureml:<name>` and `<name>` (the default version: latest)
- `azureml:/subscriptions/.../workspaces/<ws>/<kind>/<name>[/versions/<v>]` (ARM id: only the
  name and version are kept)
- `azureml://registries/<reg>/<kind>/<name>/versions/<v>` and `.../labels/<label>` (registry
  assets: curated environments resolve through the alias table of the environments service)

Pure parsing: no database. `resolve_version()` in selectors turns a parsed reference into a row
at the moment of use.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

LATEST = "latest"

_ARM = re.compile(
    r"^azureml:/subscriptions/[^/]+/resource[gG]roups/[^/]+/providers/"
    r"Microsoft\.MachineLearningServices/workspaces/[^/]+/(?P<kind>[^/]+)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+))?/?$"
)
_REGISTRY = re.compile(
    r"^azureml://registries/(?P<registry>[^/]+)/(?P<kind>[^/]+)/(?P<name>[^/]+)"
    r"(?:/versions/(?P<version>[^/]+)|/labels/(?P<label>[^/]+))?/?$"
)
_NAME_VERSION = re.compile(r"^(?P<name>[^:@/]+):(?P<version>[^:@/]+)$")
_NAME_LABEL = re.compile(r"^(?P<name>[^:@/]+)@(?P<label>[^:@/]+)$")
_NAME = re.compile(r"^(?P<name>[^:@/]+)$")


class ReferenceError_(ValueError):
    """A string that is not an asset reference."""


@dataclass(frozen=True)
class AssetRef:
    name: str
    version: str | None = None  # exactly one of version and label is set
    label: str | None = None
    registry: str | None = None  # azureml://registries/<registry>/...
    kind: str | None = None  # as written in an ARM id or registry URI ("environments")

    def __str__(self) -> str:
        if self.registry:
            tail = f"versions/{self.version}" if self.version else f"labels/{self.label}"
            return f"azureml://registries/{self.registry}/{self.kind}/{self.name}/{tail}"
        if self.version:
            return f"azureml:{self.name}:{self.version}"
        return f"azureml:{self.name}@{self.label}"


def parse(text: str) -> AssetRef:
    """Parse an asset reference; raise ReferenceError_ with the reason when it is not one."""
    if not isinstance(text, str) or not text.strip():
        raise ReferenceError_("an asset reference must be a non-empty string")
    ref = text.strip()
    if m := _REGISTRY.match(ref):
        version, label = m["version"], m["label"]
        return AssetRef(
            name=m["name"],
            version=version,
            label=None if version else (label or LATEST),
            registry=m["registry"],
            kind=m["kind"],
        )
    if m := _ARM.match(ref):
        version = m["version"]
        return AssetRef(
            name=m["name"], version=version, label=None if version else LATEST, kind=m["kind"]
        )
    if ref.startswith("azureml://"):
        raise ReferenceError_(f"'{ref}' is a URI, not an asset reference")
    body = ref[len("azureml:") :] if ref.startswith("azureml:") else ref
    if m := _NAME_VERSION.match(body):
        return AssetRef(name=m["name"], version=m["version"])
    if m := _NAME_LABEL.match(body):
        return AssetRef(name=m["name"], label=m["label"])
    if m := _NAME.match(body):
        return AssetRef(name=m["name"], label=LATEST)
    raise ReferenceError_(
        f"'{ref}' is not an asset reference (azureml:<name>:<version> or azureml:<name>@latest)"
    )


def is_reference(text: object) -> bool:
    """True for strings written as asset references (`azureml:` prefix, registry URIs)."""
    return (
        isinstance(text, str)
        and text.startswith("azureml:")
        and not text.startswith("azureml://datastores/")
        and not text.startswith("azureml://jobs/")
    )
