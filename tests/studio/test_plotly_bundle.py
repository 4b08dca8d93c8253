"""plotly/plotly.min.js is the smallest bundle installed that draws the studio's traces: npm's
plotly.js-cartesian-dist-min (scripts/setup.sh installs it from package.json), else the
plotly Python package's full bundle; both of the same plotly.js version."""

from __future__ import annotations

import os
import re
from pathlib import Path

import plotly
import pytest
from django.contrib.staticfiles import finders

from studio import staticfinders

FULL = Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def _version(path: Path) -> str:
    return re.search(r"plotly\.js[^\n]*? v(\d+\.\d+\.\d+)", path.read_text()[:300]).group(1)


def test_the_cartesian_bundle_is_served_when_npm_installed_it():
    if os.environ.get("CI") != "true" and staticfinders.plotly_bundle() == FULL:
        pytest.skip("npm's bundle is not installed here (scripts/setup.sh installs it)")
    served = Path(finders.find(staticfinders.NAME))
    assert served.name == "plotly-cartesian.min.js"
    assert "plotly.js (cartesian - minified)" in served.read_text()[:200]
    assert served.stat().st_size < FULL.stat().st_size / 2
    assert _version(served) == _version(FULL)  # the same plotly.js as the Python package's


def test_without_npm_s_bundle_the_full_one_is_served(settings, tmp_path):
    settings.BASE_DIR = tmp_path  # no node_modules here
    assert staticfinders.plotly_bundle() == FULL
    finder = staticfinders.PlotlyFinder()
    assert finder.find(staticfinders.NAME) == str(FULL)
    assert finder.find("plotly/other.js") is None and finder.find("x", find_all=True) == []
    [(path, storage)] = list(finder.list(None))
    assert (storage.prefix, path) == ("plotly", "plotly.min.js")
    assert storage.path(path) == str(FULL)
    with storage.open(path) as handle:
        assert handle.read(20) == FULL.read_bytes()[:20]
