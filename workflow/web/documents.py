"""Documents over HTTP: ``/api/proposals/<key>/documents`` (list, attach, download), and the
page that attaches one in the browser (``/proposals/<key>/documents``, no JavaScript needed).

The one door of :mod:`workflow.documents.attach` (content sniffed, types and size of
``[documents]``, SHA-256 in the history entry), with the API's accounts and its one error
shape. A download is served as an attachment under its cleaned name, with the type its
content showed when it was attached, ``nosniff`` and a sandboxing CSP, and only after its
SHA-256 was checked again.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, g, jsonify, redirect, render_template, request, url_for
from werkzeug.datastructures import FileStorage
from werkzeug.wrappers import Response

from workflow.documents.attach import (
    DocumentPolicy,
    DocumentRefused,
    UnknownDocument,
    attach,
    list_documents,
    read_document,
)
from workflow.errors import AlreadyAttached, PermissionDenied, StoreUnavailable, WorkflowError
from workflow.inputs import capped_whole_number
from workflow.web import api, reads
from workflow.web.pages import error_page, login_required, may
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


def _room_for_the_file() -> None:
    """The application takes bodies of 1 MiB; an upload (the API's or the page's) takes the
    configured limit."""
    if request.method == "POST":
        request.max_content_length = _policy().max_bytes + FRAMING


bp.before_request(_room_for_the_file)


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


# --- the page -----------------------------------------------------------------------------

pages = Blueprint("document_pages", __name__)
pages.before_request(_room_for_the_file)


@pages.route("/proposals/<key>/documents", methods=["GET", "POST"])
@login_required
def attach_page(key: str) -> Any:
    """Attach a document to the proposal, one of its statements or none (a form; the
    coordinator and the lead ministry by default, ``permissions.attach_document``)."""
    w = web()
    detail = reads.detail(w.runtime, key)
    if not may("attach_document", detail):
        return error_page(403, "Sie dürfen an diesen Vorschlag keine Dokumente anhängen.")
    policy = _policy()
    statement = request.form.get("statement", "")
    comment = request.form.get("comment", "")

    def form(errors: list[str], status: int = 200) -> tuple[str, int]:
        return render_template(
            "documents/document.html", p=detail, errors=errors, statement=statement,
            comment=comment,
            accepted=policy.accepted_de(), limit=f"{policy.max_bytes / 2**20:g}".replace(".", ","),
        ), status  # fmt: skip

    if request.method == "GET":
        return form([])
    upload = request.files.get("file")
    if not isinstance(upload, FileStorage) or not upload.filename:
        return form(["Bitte eine Datei auswählen."], 400)
    statement_id = next(
        (int(s["id"]) for s in detail["statements"] if str(s["id"]) == statement), None
    )
    if statement and statement_id is None:
        return form(["Diese Stellungnahme gehört nicht zu diesem Vorschlag."], 400)
    try:
        done = attach(w.runtime.engine, policy, key, upload.read(), upload.filename,
                      actor=g.actor, now=w.now(), statement_id=statement_id,
                      comment=comment.strip() or None)  # fmt: skip
    except DocumentRefused as exc:
        return form([exc.de], 422)
    except AlreadyAttached as exc:
        return form(["Diese Datei ist bereits angehängt."], api.status_of(exc))
    except PermissionDenied:
        return error_page(403, "Sie dürfen an diesen Vorschlag keine Dokumente anhängen.")
    except StoreUnavailable:
        raise
    except WorkflowError as exc:
        return form([str(exc)], api.status_of(exc))
    flash(f"{key}: „{done.document.filename}“ angehängt (Eintrag #{done.applied.seq} in der"
          " Historie, SHA-256 gespeichert).")  # fmt: skip
    return redirect(url_for("proposals.proposal_page", key=key), code=303)
