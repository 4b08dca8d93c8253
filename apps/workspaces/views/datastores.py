"""Manage > Datastores: the list, creation (with a connection test), a datastore's page with
its file browser (folders, paging, streamed upload and download, previews), and the
set-default, edit and delete actions.

Uploads are streamed to storage while the request is read: `StoreUploadHandler` hands each
chunk of the multipart body to the datastore (a block at a time), so no file is held in
memory or spooled to a temporary file first.
"""

from __future__ import annotations

import posixpath
from urllib.parse import urlencode

from django import forms
from django.contrib import messages
from django.core.files.uploadhandler import FileUploadHandler
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_htmx.http import HttpResponseClientRedirect

from studio.errors import Conflict, DomainError, ValidationError
from studio.htmx import HtmxHttpRequest, is_partial, vary_on_htmx

from .. import permissions, storage
from ..api.datastores import download_response
from ..forms import format_tags, parse_tags
from ..models import Datastore
from ..permissions import Action
from ..selectors import datastores as selectors
from ..services import datastores as services
from .workspaces import workspace_view

PAGE_SIZE = 100
# The form fields that carry each type's secret values (never rendered back).
SECRET_FIELDS = {
    "azure_blob": ("account_key", "sas_token"),
    "s3": ("access_key_id", "secret_access_key"),
    "local": (),
}
CREDENTIAL_LABELS = {
    Datastore.CredentialKind.NONE: "None (anonymous access)",
    Datastore.CredentialKind.ACCOUNT_KEY: "Account key: set",
    Datastore.CredentialKind.SAS_TOKEN: "SAS token: set",
    Datastore.CredentialKind.ACCESS_KEY: "Access key and secret: set",
}


def _secret_input() -> forms.PasswordInput:
    return forms.PasswordInput(attrs={"autocomplete": "new-password"}, render_value=False)


class DatastoreForm(forms.Form):
    """HTML input of a new datastore. Only the chosen type's fields are used; the service
    checks them and tests the connection."""

    name = forms.CharField(
        max_length=255, help_text="Letters, digits and '_', starting with a letter."
    )
    type = forms.ChoiceField(choices=Datastore.Type.choices, initial=Datastore.Type.AZURE_BLOB)
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )
    account_name = forms.CharField(label="Storage account", required=False)
    container_name = forms.CharField(label="Blob container", required=False)
    endpoint = forms.CharField(
        required=False,
        initial="core.windows.net",
        help_text="core.windows.net, or the account's URL (Azurite: "
        "http://127.0.0.1:10000/devstoreaccount1).",
    )
    protocol = forms.ChoiceField(
        choices=[("https", "https"), ("wasbs", "wasbs")], required=False, initial="https"
    )
    account_key = forms.CharField(
        label="Account key", required=False, widget=_secret_input(), help_text="Or a SAS token."
    )
    sas_token = forms.CharField(label="SAS token", required=False, widget=_secret_input())
    bucket = forms.CharField(required=False)
    endpoint_url = forms.CharField(
        label="Endpoint URL",
        required=False,
        help_text="For MinIO and other S3-compatible servers; empty for AWS.",
    )
    region = forms.CharField(required=False, initial="us-east-1")
    access_key_id = forms.CharField(label="Access key ID", required=False, widget=_secret_input())
    secret_access_key = forms.CharField(
        label="Secret access key", required=False, widget=_secret_input()
    )
    path = forms.CharField(
        label="Folder",
        required=False,
        help_text="A folder name (kept in this workspace's storage), or an absolute folder "
        "that the administrator allows.",
    )

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


class DatastoreEditForm(forms.Form):
    description = forms.CharField(widget=forms.Textarea(attrs={"rows": 2}), required=False)
    tags = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 2}), required=False, help_text="key=value, one a line"
    )
    account_key = forms.CharField(label="New account key", required=False, widget=_secret_input())
    sas_token = forms.CharField(label="New SAS token", required=False, widget=_secret_input())
    access_key_id = forms.CharField(
        label="New access key ID", required=False, widget=_secret_input()
    )
    secret_access_key = forms.CharField(
        label="New secret access key", required=False, widget=_secret_input()
    )
    remove_credentials = forms.BooleanField(
        required=False, label="Remove the credentials (anonymous access)"
    )

    def __init__(self, *args, datastore: Datastore, **kwargs):
        super().__init__(*args, **kwargs)
        for name in ("account_key", "sas_token", "access_key_id", "secret_access_key"):
            if name not in SECRET_FIELDS[datastore.type]:
                del self.fields[name]
        if datastore.type == Datastore.Type.LOCAL:
            del self.fields["remove_credentials"]

    def clean_tags(self):
        return parse_tags(self.cleaned_data["tags"])


def _place_errors(form: forms.Form, exc: DomainError, type_: str) -> None:
    """A service's field errors next to the form's fields ('credentials.account_key' next to
    account_key; 'credentials' next to the secret that was given)."""
    placed = False
    for path, msgs in exc.fields.items():
        target = path.split(".")[-1]
        if path == "credentials":
            given = [f for f in SECRET_FIELDS.get(type_, ()) if form.data.get(f)]
            target = (given or SECRET_FIELDS.get(type_) or ("",))[-1]
        if target in form.fields:
            for msg in msgs:
                form.add_error(target, msg)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _detail_url(datastore: Datastore, path: str = "", **query) -> str:
    url = reverse("workspaces:datastore-detail", args=[datastore.workspace.name, datastore.name])
    params = {k: v for k, v in {"path": path, **query}.items() if v}
    return f"{url}?{urlencode(params)}" if params else url


def _breadcrumbs(path: str) -> list[tuple[str, str]]:
    crumbs, parts = [], []
    for part in path.split("/") if path else []:
        parts.append(part)
        crumbs.append((part, "/".join(parts)))
    return crumbs


def _settings_rows(datastore: Datastore) -> list[tuple[str, str]]:
    """What the detail page shows of the datastore's settings (never a secret)."""
    config = datastore.config or {}
    if datastore.type == Datastore.Type.AZURE_BLOB:
        rows = [
            ("Storage account", config.get("account_name", "")),
            ("Blob container", config.get("container_name", "")),
            ("Account URL", storage.azure_account_url(config)),
            ("Protocol", config.get("protocol", "https")),
        ]
    elif datastore.type == Datastore.Type.S3:
        rows = [
            ("Bucket", config.get("bucket", "")),
            ("Endpoint URL", config.get("endpoint_url") or "AWS (default)"),
            ("Region", config.get("region", "")),
        ]
    else:
        folder = config.get("path", "")
        if config.get("relative_to") == "STUDIO_HOME":
            folder = f"$STUDIO_HOME/{folder}"
        rows = [("Folder", folder)]
    if datastore.type != Datastore.Type.LOCAL:
        rows.append(("Credentials", CREDENTIAL_LABELS[datastore.credential_kind]))
    return rows


def _browser_context(request, datastore: Datastore, path: str, cursor: str | None) -> dict:
    """The file browser of one folder: breadcrumbs, one page of entries, the next cursor.
    A storage failure is shown in the browser instead of failing the page."""
    context = {"path": path, "crumbs": _breadcrumbs(path), "entries": [], "next_cursor": None}
    if path:
        context["parent"] = posixpath.dirname(path)
    try:
        entries, next_cursor = selectors.datastore_file_list(
            actor=request.user, datastore=datastore, path=path, cursor=cursor, limit=PAGE_SIZE
        )
    except (storage.StorageUnavailable, ValidationError) as exc:
        context["browse_error"] = exc.message
    else:
        context.update(entries=entries, next_cursor=next_cursor, paged=bool(cursor))
    return context


def _datastore(request, workspace, ds: str, action: Action = Action.DATASTORE_VIEW):
    return selectors.datastore_get(actor=request.user, workspace=workspace, name=ds, action=action)


# Pages -------------------------------------------------------------------------------------


@workspace_view(Action.DATASTORE_VIEW)
@require_GET
def datastore_list(request: HtmxHttpRequest, workspace):
    datastores = selectors.datastore_list(actor=request.user, workspace=workspace)
    rows = [(ds, _location(ds)) for ds in datastores.select_related("created_by")]
    return render(request, "workspaces/datastore_list.html", {"rows": rows})


def _location(datastore: Datastore) -> str:
    config = datastore.config or {}
    if datastore.type == Datastore.Type.AZURE_BLOB:
        return f"{config.get('account_name', '')}/{config.get('container_name', '')}"
    if datastore.type == Datastore.Type.S3:
        return config.get("bucket", "")
    return posixpath.basename(config.get("path", "").rstrip("/")) or config.get("path", "")


@workspace_view(Action.DATASTORE_MANAGE)
@require_http_methods(["GET", "POST"])
def datastore_create(request: HtmxHttpRequest, workspace):
    form = DatastoreForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        type_ = data["type"]
        settings = {k: data[k] for k in services.SETTINGS[type_] if data.get(k)}
        credentials = {k: data[k] for k in SECRET_FIELDS[type_] if data.get(k)}
        try:
            datastore = services.datastore_create(
                actor=request.user,
                workspace=workspace,
                name=data["name"],
                type=type_,
                description=data["description"],
                tags=data["tags"],
                credentials=credentials or None,
                **settings,
            )
        except (ValidationError, Conflict) as exc:
            _place_errors(form, exc, type_)
        else:
            messages.success(request, f"Datastore '{datastore.name}' created.")
            return redirect(_detail_url(datastore))
    status = 422 if request.method == "POST" else 200
    return render(request, "workspaces/datastore_create.html", {"form": form}, status=status)


@workspace_view(Action.DATASTORE_VIEW)
@require_GET
def datastore_detail(request: HtmxHttpRequest, workspace, ds: str):
    """The datastore's settings and its file browser (?path= folder, ?cursor= page)."""
    datastore = _datastore(request, workspace, ds)
    path = storage.clean_path(request.GET.get("path", ""))
    context = {"datastore": datastore, "settings_rows": _settings_rows(datastore)}
    if permissions.can(request.user, Action.DATASTORE_READ_FILES, workspace):
        context.update(_browser_context(request, datastore, path, request.GET.get("cursor")))
    if is_partial(request):
        return vary_on_htmx(render(request, "workspaces/datastore_detail.html#browser", context))
    context["uri"] = storage.uri(datastore.name, path)
    return vary_on_htmx(render(request, "workspaces/datastore_detail.html", context))


@workspace_view(Action.DATASTORE_MANAGE)
@require_http_methods(["GET", "POST"])
def datastore_edit(request: HtmxHttpRequest, workspace, ds: str):
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_MANAGE)
    initial = {"description": datastore.description, "tags": format_tags(datastore.tags)}
    form = DatastoreEditForm(request.POST or None, initial=initial, datastore=datastore)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        credentials = {k: data[k] for k in SECRET_FIELDS[datastore.type] if data.get(k)}
        if data.get("remove_credentials"):
            credentials = {}
        elif not credentials:
            credentials = None  # unchanged
        try:
            services.datastore_update(
                actor=request.user,
                datastore=datastore,
                description=data["description"],
                tags=data["tags"],
                credentials=credentials,
            )
        except ValidationError as exc:
            _place_errors(form, exc, datastore.type)
        else:
            messages.success(request, f"Datastore '{datastore.name}' saved.")
            return redirect(_detail_url(datastore))
    status = 422 if request.method == "POST" else 200
    context = {
        "form": form,
        "datastore": datastore,
        "credential_label": CREDENTIAL_LABELS[datastore.credential_kind],
    }
    return render(request, "workspaces/datastore_edit.html", context, status=status)


def _after_action(request, url: str, error: DomainError | None, page_context=None):
    """After a button's POST: htmx navigates (HX-Redirect) to `url` with the outcome
    flashed; a plain form gets a redirect, or the page again with the error status."""
    if error is not None:
        messages.error(request, error.message)
    if is_partial(request):
        return HttpResponseClientRedirect(url)
    if error is not None and page_context is not None:
        return render(
            request, "workspaces/datastore_detail.html", page_context, status=error.status_code
        )
    return redirect(url)


@workspace_view(Action.DATASTORE_MANAGE)
@require_POST
def datastore_set_default(request: HtmxHttpRequest, workspace, ds: str):
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_MANAGE)
    services.datastore_set_default(actor=request.user, datastore=datastore)
    messages.success(request, f"'{datastore.name}' is now the default datastore.")
    return _after_action(request, _detail_url(datastore), None)


@workspace_view(Action.DATASTORE_MANAGE)
@require_POST
def datastore_delete(request: HtmxHttpRequest, workspace, ds: str):
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_MANAGE)
    try:
        services.datastore_delete(actor=request.user, datastore=datastore)
    except Conflict as exc:
        context = {"datastore": datastore, "settings_rows": _settings_rows(datastore)}
        return _after_action(request, _detail_url(datastore), exc, context)
    messages.success(request, f"Datastore '{datastore.name}' deleted; its files were kept.")
    return _after_action(request, reverse("workspaces:datastore-list", args=[workspace.name]), None)


# Files -------------------------------------------------------------------------------------


class StoreUploadHandler(FileUploadHandler):
    """Streams each uploaded file of a multipart request straight into a datastore, a chunk
    at a time, as Django's parser reads the body: nothing is kept in memory or on disk.

    `open_writer(file_name, size_hint)` starts an upload (services.datastore_file_writer).
    A failed or interrupted request aborts the upload, so no partial file appears.
    """

    chunk_size = 2**20

    def __init__(self, request, *, open_writer):
        super().__init__(request)
        self.open_writer = open_writer
        self.current: storage.Upload | None = None
        self.request_length: int | None = None
        self.saved: list[storage.Upload] = []

    def handle_raw_input(self, input_data, META, content_length, boundary, encoding=None):
        self.request_length = content_length

    def new_file(self, field_name, file_name, *args, **kwargs):
        super().new_file(field_name, file_name, *args, **kwargs)
        if field_name != "file":
            return
        self.abort()  # a previous file left unfinished
        self.current = self.open_writer(self.file_name, self.request_length)

    def receive_data_chunk(self, raw_data, start):
        if self.current is not None:
            try:
                self.current.write(raw_data)
            except Exception:
                self.abort()
                raise
        return None

    def file_complete(self, file_size):
        upload, self.current = self.current, None
        if upload is None:
            return None
        upload.commit()
        self.saved.append(upload)
        return upload

    def upload_interrupted(self):
        self.abort()

    def abort(self) -> None:
        if self.current is not None:
            self.current.abort()
            self.current = None


@csrf_exempt  # checked by _upload_received, once the streaming handler is in place
@workspace_view(Action.DATASTORE_WRITE_FILES)
@require_POST
def datastore_upload(request: HtmxHttpRequest, workspace, ds: str):
    """Upload files (field `file`, several allowed) into the folder ?path=.

    Django's documented pattern for a custom upload handler: the view is csrf_exempt so the
    handler can be set before the body is read, and the CSRF check runs right after. The
    login and role checks come first, and the session cookie is SameSite=Lax, so a
    cross-site form never reaches the handler with a user's session.
    """
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_WRITE_FILES)
    folder = storage.clean_path(request.GET.get("path", ""))

    def open_writer(file_name: str, size_hint: int | None) -> storage.Upload:
        target = storage.clean_path(posixpath.join(folder, file_name or ""), field="file")
        return services.datastore_file_writer(
            actor=request.user, datastore=datastore, path=target, size_hint=size_hint
        )

    handler = StoreUploadHandler(request, open_writer=open_writer)
    request.upload_handlers = [handler]
    try:
        return _upload_received(request, datastore, folder, handler)
    except DomainError as exc:  # raised while the CSRF check read the body
        return _upload_response(request, datastore, folder, handler, exc)
    finally:
        handler.abort()  # whatever a broken request left unfinished


@csrf_protect
def _upload_received(request, datastore: Datastore, folder: str, handler: StoreUploadHandler):
    request.FILES  # noqa: B018 - reading the body streams the files to storage
    return _upload_response(request, datastore, folder, handler, None)


def _upload_response(request, datastore, folder, handler, error: DomainError | None):
    if error is None and not handler.saved:
        error = ValidationError.for_field("file", "Choose a file to upload.")
    flash = None
    if error is None:
        flash = f"Uploaded {', '.join(posixpath.basename(u.path) for u in handler.saved)}."
    if not is_partial(request) and error is None:
        messages.success(request, flash)
        return redirect(_detail_url(datastore, folder))
    context = {
        "datastore": datastore,
        "upload_error": error.message if error else None,
        "flash": flash,
        **_browser_context(request, datastore, folder, None),
    }
    status = 422 if error is not None else 200
    template = "workspaces/datastore_detail.html"
    if is_partial(request):
        template += "#browser"
    else:
        context["settings_rows"] = _settings_rows(datastore)
    return render(request, template, context, status=status)


@workspace_view(Action.DATASTORE_READ_FILES)
@require_GET
def datastore_download(request, workspace, ds: str):
    """The file ?path= as a streamed attachment."""
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_READ_FILES)
    entry, handle = selectors.datastore_file_open(
        actor=request.user, datastore=datastore, path=request.GET.get("path", "")
    )
    return download_response(request, entry, handle)


@workspace_view(Action.DATASTORE_READ_FILES)
@require_GET
def datastore_raw(request, workspace, ds: str):
    """A raster image, streamed inline with its own content type (for the preview's <img>).
    Anything else, SVG included, is refused: only the download serves it."""
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_READ_FILES)
    path = request.GET.get("path", "")
    content_type = selectors.image_type(path)
    if content_type is None:
        raise ValidationError.for_field("path", "Only PNG, JPEG, GIF, WebP and BMP show inline.")
    entry, handle = selectors.datastore_file_open(
        actor=request.user, datastore=datastore, path=path
    )
    return download_response(request, entry, handle, content_type=content_type)


@workspace_view(Action.DATASTORE_READ_FILES)
@require_GET
def datastore_preview(request: HtmxHttpRequest, workspace, ds: str):
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_READ_FILES)
    preview = selectors.datastore_file_preview(
        actor=request.user, datastore=datastore, path=request.GET.get("path", "")
    )
    context = {
        "datastore": datastore,
        "preview": preview,
        "crumbs": _breadcrumbs(preview.entry.path),
        "parent": posixpath.dirname(preview.entry.path),
        "uri": storage.uri(datastore.name, preview.entry.path),
    }
    template = "workspaces/datastore_preview.html"
    if is_partial(request):
        template += "#preview"
    return vary_on_htmx(render(request, template, context))


@workspace_view(Action.DATASTORE_WRITE_FILES)
@require_POST
def datastore_file_delete(request: HtmxHttpRequest, workspace, ds: str):
    """Delete the file ?path=, then show its folder."""
    datastore = _datastore(request, workspace, ds, Action.DATASTORE_WRITE_FILES)
    path = storage.clean_path(request.GET.get("path", ""))
    folder = posixpath.dirname(path)
    services.datastore_file_delete(actor=request.user, datastore=datastore, path=path)
    flash = f"Deleted {posixpath.basename(path)}."
    if not is_partial(request):
        messages.success(request, flash)
        return redirect(_detail_url(datastore, folder))
    context = {"datastore": datastore, "flash": flash}
    context.update(_browser_context(request, datastore, folder, None))
    return render(request, "workspaces/datastore_detail.html#browser", context)
