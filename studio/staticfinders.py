"""`plotly/plotly.min.js`, the one chart library of the studio's pages, from a package.

The smallest installed bundle that draws every trace the pages use (scatter lines and
markers for metrics and ROC curves, heatmaps for confusion matrices) is served under that one
name: npm's `plotly.js-cartesian-dist-min` (1.5 MB, installed by scripts/setup.sh from
package.json) when it is there, else the plotly Python package's full bundle (4.8 MB, every
trace type). Both are plotly.js of the same version, so pages and tests need not know which.
A job's Metrics tab draws its charts about 40% sooner with the smaller one
(benchmarks/page_load.py).

The finder comes before Django's own (settings.STATICFILES_FINDERS), so collectstatic,
WhiteNoise and the test server all take the file from here.
"""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

NAME = "plotly/plotly.min.js"
CARTESIAN = ("node_modules", "plotly.js-cartesian-dist-min", "plotly-cartesian.min.js")


def plotly_bundle() -> Path | None:
    """The bundle served as plotly/plotly.min.js (None when neither package is installed)."""
    cartesian = Path(settings.BASE_DIR).joinpath(*CARTESIAN)
    if cartesian.is_file():
        return cartesian
    try:
        import plotly
    except ImportError:  # pragma: no cover - plotly is a pinned dependency
        return None
    full = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"
    return full if full.is_file() else None


class _OneFile(FileSystemStorage):
    """The bundle's folder, where `plotly.min.js` names the bundle's own file."""

    def __init__(self, bundle: Path):
        super().__init__(location=str(bundle.parent))
        self.prefix = "plotly"
        self.bundle = bundle.name

    def path(self, name: str) -> str:
        return super().path(self.bundle if name == "plotly.min.js" else name)


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.bundle = plotly_bundle()

    def check(self, **kwargs):
        return []

    def find(self, path, find_all=False, **kwargs):
        found = str(self.bundle) if self.bundle and path == NAME else None
        if find_all or kwargs.get("all"):
            return [found] if found else []
        return found

    def list(self, ignore_patterns):
        if self.bundle:
            yield "plotly.min.js", _OneFile(self.bundle)
