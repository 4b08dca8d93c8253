"""No API response, page or log line shows a datastore credential: not to its Owner, not in
the OpenAPI schema, not at DEBUG level in any library's log. (Azure ML lets a Reader read a
datastore's key back; the studio never returns one.)"""

from __future__ import annotations

import io
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import quote

import pytest

from apps.workspaces import storage
from apps.workspaces.models import Datastore
from tests.conftest import api_client_for, client_for
from tests.storage_servers import azure_fields, make_container, s3_fields

pytestmark = pytest.mark.django_db
API = "/api/v1/workspaces/churn/datastores"
WS = "/w/churn/datastores"
LOGGERS = ("", "azure", "adlfs", "fsspec", "s3fs", "botocore", "aiobotocore", "urllib3", "django")


def _forms(secret: str) -> set[str]:
    """The secret and the encodings in which it could leak (URL, form and JSON escapes)."""
    return {secret, quote(secret, safe=""), quote(secret), secret.replace("/", "\\/")}


def test_no_response_page_or_log_contains_a_datastore_credential(
    caplog, owner, workspace, reader, azurite, moto_s3
):
    from azure.storage.blob import ContainerSasPermissions, generate_container_sas

    for name in LOGGERS:
        caplog.set_level(logging.DEBUG, logger=name)
    caplog.set_level(logging.DEBUG, logger="azure.core.pipeline.policies.http_logging_policy")
    api, html = api_client_for(owner), client_for(owner)
    sas_container = make_container(azurite)
    sas = generate_container_sas(
        azurite.account_name,
        sas_container,
        account_key=azurite.account_key,
        permission=ContainerSasPermissions(read=True, write=True, list=True, delete=True),
        expiry=datetime.now(UTC) + timedelta(hours=1),
    )
    wrong_key = "W" * 86 + "=="
    secrets = [azurite.account_key, moto_s3.secret_access_key, sas, wrong_key]
    bodies: list[str] = []

    def keep(response) -> None:
        if getattr(response, "streaming", False):
            bodies.append(b"".join(response.streaming_content).decode("utf-8", "replace"))
        else:
            bodies.append(response.content.decode("utf-8", "replace"))
        bodies.append(str(dict(response.items())))

    # Created through the API (account key, SAS) and the page (S3 access key).
    keep(
        api.post(
            f"{API}/",
            {"name": "blob", **azure_fields(azurite, make_container(azurite))},
            format="json",
        )
    )
    sas_fields = azure_fields(azurite, sas_container, credentials={"sas_token": sas})
    keep(api.post(f"{API}/", {"name": "blob_sas", **sas_fields}, format="json"))
    s3 = s3_fields(moto_s3, _bucket(moto_s3))
    keep(
        html.post(
            f"{WS}/-/new/",
            {
                "name": "s3data",
                "type": "s3",
                "bucket": s3["bucket"],
                "endpoint_url": s3["endpoint_url"],
                "region": "us-east-1",
                **s3["credentials"],
            },
        )
    )
    assert Datastore.objects.filter(name__in=["blob", "blob_sas", "s3data"]).count() == 3
    # Refused attempts: the wrong key is not echoed back either.
    bad = azure_fields(azurite, make_container(azurite), credentials={"account_key": wrong_key})
    keep(api.post(f"{API}/", {"name": "bad", **bad}, format="json"))
    keep(
        html.post(
            f"{WS}/-/new/",
            {"name": "bad", "type": "azure_blob", "account_name": azurite.account_name,
             "container_name": bad["container_name"], "endpoint": azurite.account_url,
             "account_key": wrong_key},
        )
    )  # fmt: skip
    keep(api.patch(f"{API}/blob/", {"credentials": {"account_key": wrong_key}}, format="json"))
    keep(
        api.patch(
            f"{API}/blob/", {"credentials": {"account_key": azurite.account_key}}, format="json"
        )
    )

    for name in ("blob", "blob_sas", "s3data"):
        storage.open_store(Datastore.objects.get(name=name)).write_stream(
            "data/hello.csv", io.BytesIO(b"a,b\n1,2\n")
        )
        for client in (api, api_client_for(reader)):
            keep(client.get(f"{API}/{name}/"))
            keep(client.get(f"{API}/{name}/files/", {"path": "data"}))
            keep(client.get(f"{API}/{name}/files/content", {"path": "data/hello.csv"}))
        keep(api.put(f"{API}/{name}/files/content?path=up.txt", b"up", content_type="text/plain"))
        keep(api.post(f"{API}/{name}/set-default/"))
        for client in (html, client_for(reader)):
            keep(client.get(f"{WS}/{name}/"))
            keep(client.get(f"{WS}/{name}/", {"path": "data"}, HTTP_HX_REQUEST="true"))
            keep(client.get(f"{WS}/{name}/preview/", {"path": "data/hello.csv"}))
            keep(client.get(f"{WS}/{name}/download/", {"path": "data/hello.csv"}))
        keep(html.get(f"{WS}/{name}/edit/"))
        keep(html.post(f"{WS}/{name}/edit/", {"description": "d"}))
    for client in (api, api_client_for(reader)):
        keep(client.get(f"{API}/"))
    for client in (html, client_for(reader)):
        keep(client.get(f"{WS}/"))
        keep(client.get("/w/churn/"))
    keep(api.get("/api/v1/schema/"))
    keep(api.get("/api/v1/schema/?format=json"))

    text = "\n".join(bodies)
    logs = caplog.text + "\n".join(str(r.args) for r in caplog.records)
    assert "Account key: set" in text and "SAS token: set" in text  # the pages were real
    assert len(caplog.records) > 20  # and the libraries did log at DEBUG
    for secret in secrets:
        for form in _forms(secret):
            assert form not in text, "a credential appears in a response"
            assert form not in logs, "a credential appears in the logs"


def _bucket(server) -> str:
    from tests.storage_servers import make_bucket

    return make_bucket(server)
