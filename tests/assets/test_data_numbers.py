"""Numbers in the data preview and profile tables are right-aligned, and the profile shows
min, max and mean to 4 significant digits (the full value on hover and in the API)."""

from __future__ import annotations

import pytest

from apps.assets.tasks import profile_data
from apps.assets.templatetags.data_tags import sig
from tests.assets.test_data import _upload
from tests.conftest import api_client_for, client_for

pytestmark = pytest.mark.django_db

CSV = b"age,score,name\n70,70.054012,a\n71,70.054012,b\n69,70.054012,c\n"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (70.054012, "70.05"),
        (3.4, "3.4"),
        (5.0, "5"),
        (123456.789, "123457"),
        (0.000123456, "0.0001235"),
        (1.5e-7, "1.5e-07"),
        (-2.71828, "-2.718"),
        (42, 42),
        ("setosa", "setosa"),
        (None, "—"),
    ],
)
def test_sig_rounds_floats_only(value, shown):
    assert sig(value) == shown


def test_the_preview_and_profile_right_align_numbers_and_round_the_mean(owner, workspace):
    row = _upload(owner, workspace, {"p.csv": CSV}, folder=False, name="p", type="uri_file")
    client = client_for(owner)
    client.post(f"/w/churn/data/p/versions/{row.version}/-/profile/")
    profile_data(str(row.pk))

    preview = client.get(f"/w/churn/data/p/versions/{row.version}/-/preview/").content.decode()
    assert '<th class="num">age' in preview and '<th class="num">score' in preview
    assert "<th>name" in preview
    assert '<td class="num">70</td><td class="num">70.054012</td><td>a</td>' in preview

    page = client.get(f"/w/churn/data/p/versions/{row.version}/").content.decode()
    assert '<th class="num">Mean</th>' in page
    assert '<td class="num" title="70.054012">70.05</td>' in page
    assert "<td>70.054012</td>" not in page

    api = api_client_for(owner).get(f"/api/v1/workspaces/churn/data/p/versions/{row.version}/")
    assert "70.054012" in api.content.decode()
