"""The files billing serves, to HQ and to the portal alike: an invoice's PDF and a dispute's attachments.

The caller has looked the record up within its scope; these only answer with the file.
"""
from __future__ import annotations

from flask import Response, abort

from ..models.billing import Invoice
from ..models.trust import DisputeAttachment
from . import pdf


def pdf_response(session, found: Invoice) -> Response:
    """The stored PDF as sent to the partner (404 while it has not been rendered)."""
    data = pdf.stored_pdf(session=session, invoice=found)
    if data is None:
        abort(404)
    return Response(data, mimetype="application/pdf", headers={
        "Content-Disposition": f'inline; filename="{found.number}.pdf"'})


def attachment_response(found: DisputeAttachment) -> Response:
    """A stored attachment as a download (never rendered inline: it is the partner's file)."""
    safe = "".join(c for c in found.filename if c.isalnum() or c in "._-") or "attachment"
    return Response(found.data, mimetype="application/octet-stream",
                    headers={"Content-Disposition": f'attachment; filename="{safe}"',
                             "X-Content-Type-Options": "nosniff"})
