"""What a file is, by its content — never by its name or the type a browser claims.

A document is accepted only when its bytes are one of the types below; the name a user gave
it is kept for display and download, but decides nothing. Office files are ZIP archives (or,
the old binary formats, OLE2 compound files): a ZIP counts as a Word, Excel or PowerPoint
file only when its ``[Content_Types].xml`` names the part of that application, and as an
OpenDocument only when its first member is the ``mimetype`` file the standard requires.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass


@dataclass(frozen=True)
class DocumentType:
    """A type ruhrflow accepts: its short name (configuration), MIME type and extension."""

    name: str
    mime: str
    extension: str
    label: str  # German, for the web


TYPES: dict[str, DocumentType] = {
    t.name: t
    for t in (
        DocumentType("pdf", "application/pdf", ".pdf", "PDF-Dokument"),
        DocumentType("png", "image/png", ".png", "PNG-Bild"),
        DocumentType("jpeg", "image/jpeg", ".jpg", "JPEG-Bild"),
        DocumentType("docx", "application/vnd.openxmlformats-officedocument"
                     ".wordprocessingml.document", ".docx", "Word-Dokument"),
        DocumentType("xlsx", "application/vnd.openxmlformats-officedocument"
                     ".spreadsheetml.sheet", ".xlsx", "Excel-Tabelle"),
        DocumentType("pptx", "application/vnd.openxmlformats-officedocument"
                     ".presentationml.presentation", ".pptx", "PowerPoint-Präsentation"),
        DocumentType("odt", "application/vnd.oasis.opendocument.text", ".odt",
                     "OpenDocument-Text"),
        DocumentType("ods", "application/vnd.oasis.opendocument.spreadsheet", ".ods",
                     "OpenDocument-Tabelle"),
        DocumentType("doc", "application/msword", ".doc", "Word-Dokument (alt)"),
        DocumentType("xls", "application/vnd.ms-excel", ".xls", "Excel-Tabelle (alt)"),
    )
}  # fmt: skip

_OLE2 = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
_OOXML_PARTS = {
    "docx": "wordprocessingml.document.main+xml",
    "xlsx": "spreadsheetml.sheet.main+xml",
    "pptx": "presentationml.presentation.main+xml",
}
_ODF = {
    b"application/vnd.oasis.opendocument.text": "odt",
    b"application/vnd.oasis.opendocument.spreadsheet": "ods",
}
# the OLE2 directory names the old Word and Excel files' main streams (UTF-16 LE)
_OLE2_STREAMS = {"doc": "WordDocument".encode("utf-16-le"), "xls": "Workbook".encode("utf-16-le")}


def sniff(content: bytes) -> DocumentType | None:
    """The type of ``content``, or None when it is none ruhrflow accepts."""
    if content.startswith(b"%PDF-"):
        return TYPES["pdf"]
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return TYPES["png"]
    if content.startswith(b"\xff\xd8\xff"):
        return TYPES["jpeg"]
    if content.startswith(b"PK\x03\x04"):
        return _zip_type(content)
    if content.startswith(_OLE2):
        head = content[:65536]
        for name, stream in _OLE2_STREAMS.items():
            if stream in head:
                return TYPES[name]
    return None


def _zip_type(content: bytes) -> DocumentType | None:
    try:
        with zipfile.ZipFile(io.BytesIO(content)) as archive:
            members = archive.infolist()
            if not members:
                return None
            first = members[0]
            if first.filename == "mimetype" and first.file_size < 200:
                return TYPES.get(_ODF.get(archive.read(first).strip(), ""))
            if "[Content_Types].xml" in archive.namelist():
                info = archive.getinfo("[Content_Types].xml")
                if info.file_size > 1_000_000:  # a real one is a few KiB: no zip bomb here
                    return None
                types = archive.read(info).decode("utf-8", "replace")
                for name, part in _OOXML_PARTS.items():
                    if part in types:
                        return TYPES[name]
    except (zipfile.BadZipFile, OSError, ValueError, KeyError, NotImplementedError):
        return None
    return None
