"""Documents over HTTP: ``/api/proposals/<key>/documents`` (list, attach, download).

The one door of :mod:`workflow.documents.attach` (content sniffed, types and size of
``[documents]``, SHA-256 in the history entry), with the API's accounts and its one error
shape. A download is served as an attachment under its cleaned name, with the type its
content showed when it was attached, ``nosniff`` and a sandboxing CSP, and only after its
SHA-256 was checked again.
"""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from workflow.documents.attach import (
    DocumentPolicy,
    UnknownDocument,
    attach,
    list_documents,
    read_document,
)
from workflow.errors import WorkflowError
from workflow.inputs import capped_whole_number
from workflow.web import api
from workflow.web.state import web

bp = Blueprint("documents", __name__, url_prefix="/api")
bp.register_error_handler(WorkflowError, api.workflow_error)


@bp.errorhandler(UnknownDocument)
def unknown_document(exc: UnknownDocument) -> Response:
    return api.error(404, str(exc))


# multipart framing around the file: the request may be this much larger than the file
FRAMING = 64 * 1024


def _policy() -> DocumentPolicy:
    return DocumentPolicy.from_section(web().runtime.settings.section("documents"))


@bp.before_request
def _room_for_the_file() -> None:
    """The application takes bodies of 1 MiB; an upload takes the configured limit."""
    if request.method == "POST":
        request.max_content_length = _policy().max_bytes + FRAMING


@bp.get("/proposals/<key>/documents")
@api.login_required
def documents(key: str) -> Response:
    """``ruhrflow document list``: the documents of a proposal, oldest first."""
    return jsonify(list_documents(web().runtime.store, key))


@bp.post("/proposals/<key>/documents")
@api.login_required
def attach_document(key: str) -> tuple[Response, int] | Response:
    """``ruhrflow document add``: multipart field ``file``; optional ``statement``,
    ``transition`` (whole numbers) and ``comment``."""
    upload = request.files.get("file")
    if not isinstance(upload, FileStorage) or not upload.filename:
        return api.error(400, "send the document as the multipart field 'file'")
    numbers: dict[str, int | None] = {}
    for name in ("statement", "transition"):
        raw = request.form.get(name, "").strip()
        number = capped_whole_number(raw, 2**31 - 1) if raw else None
        if raw and number is None:
            return api.error(400, f"{name} must be a whole number")
        numbers[name] = number
    comment = request.form.get("comment")
    content = upload.read()
    done = attach(
        web().runtime.engine, _policy(), key, content, upload.filename,
        actor=g.actor,  # the logged-in account, never a request parameter
        now=web().now(), statement_id=numbers["statement"],
        transition_seq=numbers["transition"], comment=comment or None,
    )  # fmt: skip
    d = done.document
    return jsonify(
        {"key": key, "seq": done.applied.seq, "sha256": d.sha256, "filename": d.filename,
         "content_type": d.content_type, "size": d.size}
    ), 201  # fmt: skip


@bp.get("/proposals/<key>/documents/<sha256>")
@api.login_required
def download(key: str, sha256: str) -> Response:
    """``ruhrflow document get``: the bytes, checked against their SHA-256."""
    meta, content = read_document(web().runtime.store, _policy(), key, sha256)
    response = Response(content, mimetype=str(meta["content_type"]))
    response.headers.set("Content-Disposition", "attachment", filename=str(meta["filename"]))
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Content-Security-Policy"] = "sandbox; default-src 'none'"
    response.headers["Cache-Control"] = "private, no-store"
    return response
