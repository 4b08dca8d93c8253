"""bind_inputs takes a data value of a type the input accepts, as the Designer connects
ports (an mltable sample dataset into Split Data's uri_folder input), read as the input's
own type; a type it does not accept is still refused, naming the field."""

from __future__ import annotations

import pytest

from apps.assets.services import components
from studio.errors import ValidationError

DECLS = {"data": {"type": "uri_folder"}, "table": {"type": "mltable", "optional": True}}


def test_a_table_feeds_a_folder_input_and_a_folder_a_table_input_as_the_input_declares():
    bound = components.bind_inputs(
        DECLS,
        {"data": {"type": "mltable", "path": "azureml:sample-iris:1"},
         "table": {"type": "uri_folder", "path": "azureml:iris:1", "mode": "download"}},
        "jobs.t.inputs",
    )  # fmt: skip
    assert bound == {
        "data": {"type": "uri_folder", "path": "azureml:sample-iris:1"},
        "table": {"type": "mltable", "path": "azureml:iris:1", "mode": "download"},
    }


@pytest.mark.parametrize("given", ["uri_file", "mlflow_model"])
def test_a_type_the_input_does_not_take_is_refused(given):
    with pytest.raises(ValidationError) as err:
        components.bind_inputs(
            {"table": {"type": "mltable"}}, {"table": {"type": given, "path": "x"}}, "jobs.t.inputs"
        )
    assert "jobs.t.inputs.table.type" in err.value.fields
