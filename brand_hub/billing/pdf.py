"""Invoice PDFs through WeasyPrint, rendered in a process pool over all cores.

The HTML is built in the calling process (cheap); each worker turns one HTML
string into one PDF with its own font configuration, so no font subset is ever
shared between two documents. The bytes are stored with their SHA-256.
"""
from __future__ import annotations

import hashlib
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import Session, select

from brand_hub.db import is_postgres

from brand_hub.models import Agreement, Franchisee
from brand_hub.models.billing import Invoice, InvoiceDocument

from .invoices import invoice_lines, site_names

TEMPLATES = Path(__file__).resolve().parent / "templates" / "billing" / "pdf"
KIND_LABELS = {
    "royalty": ("特许权使用费", "Royalty"),
    "minimum_topup": ("保底补足", "Minimum top-up"),
    "brand_fund": ("品牌基金", "Brand fund"),
    "tech_fee": ("技术服务费", "Technology fee"),
    "late_fee": ("滞纳金", "Late fee"),
    "true_up": ("差额调整", "True-up"),
}
# below this many documents a pool costs more than it saves
POOL_THRESHOLD = 4


def _environment() -> Environment:
    env = Environment(loader=FileSystemLoader(TEMPLATES), autoescape=select_autoescape(["html"]))
    env.filters["amount"] = lambda value: f"{Decimal(value):,.2f}"
    env.filters["rate"] = lambda value: f"{Decimal(value) * 100:.4f}".rstrip("0").rstrip(".") + "%"
    return env


@dataclass(frozen=True)
class Payee:
    """Who the partner pays, as printed on the invoice (``BRANDHUB_PAYEE_*`` settings)."""

    legal_name: str
    tax_id: str = ""
    bank: str = ""
    account: str = ""

    @classmethod
    def from_settings(cls, settings: Any) -> "Payee":
        return cls(legal_name=settings.payee_legal_name or settings.brand_name, tax_id=settings.payee_tax_id,
                   bank=settings.payee_bank, account=settings.payee_account)


def document_context(*, session: Session, invoice: Invoice, brand_name: str,
                     payee: Payee | None = None) -> dict[str, Any]:
    """Everything the PDF shows, as plain data (lines grouped by site)."""
    lines = invoice_lines(session=session, invoice_id=invoice.id)
    sites = site_names(session=session, site_ids={line.site_id for line in lines if line.site_id})
    groups: list[dict[str, Any]] = []
    for line in lines:
        site = sites.get(line.site_id) if line.site_id else None
        key = site.code if site else ""
        if not groups or groups[-1]["code"] != key:
            groups.append({"code": key, "name_zh": site.name_zh if site else "账户项目",
                           "name_en": site.name_en if site else "Account items", "lines": []})
        zh, en = KIND_LABELS.get(line.kind, (line.kind, line.kind))
        groups[-1]["lines"].append({"label_zh": zh, "label_en": en, "line": line})
    rows: list[dict[str, Any]] = []
    for group in groups:
        rows.append({"group": group})
        rows += [{"item": item} for item in group["lines"]]
    cut, repeated = _closing_cut(rows)
    return {
        "rows": rows[:cut], "closing_rows": ([repeated] if repeated else []) + rows[cut:],
        "brand_name": brand_name, "invoice": invoice, "groups": groups,
        "payee": payee or Payee(legal_name=brand_name),
        "franchisee": session.get(Franchisee, invoice.franchisee_id),
        "agreement": session.get(Agreement, invoice.agreement_id),
        "any_estimated": any(line.estimated for line in lines),
    }


# the last site's lines stay with the totals when there are at most this many (else only the last two)
CLOSING_LINES = 6


def _closing_cut(rows: list[dict[str, Any]]) -> tuple[int, dict[str, Any] | None]:
    """Where the rows that stay with the totals begin, and the site heading to repeat above them.

    The last site's heading and lines (or, for a long last site, its last two lines under its
    heading marked as continued), the totals and the payment details form one block that
    never breaks across pages: the totals are never alone on a page and always follow lines.
    """
    if not rows:
        return 0, None
    heading = max((i for i, row in enumerate(rows) if "group" in row), default=None)
    if heading is not None and len(rows) - heading - 1 <= CLOSING_LINES:
        return heading, None
    cut = max(len(rows) - 2, 0)
    return cut, ({"group": rows[heading]["group"], "continued": True} if heading is not None else None)


def render_html(context: dict[str, Any]) -> str:
    return _environment().get_template("invoice.html").render(**context)


def html_to_pdf(html: str) -> bytes:
    """One document, its own fonts: a fresh ``FontConfiguration`` every time."""
    from weasyprint import HTML
    from weasyprint.text.fonts import FontConfiguration

    fonts = FontConfiguration()
    return HTML(string=html, base_url=str(TEMPLATES)).write_pdf(font_config=fonts)


def render_many(htmls: list[str], workers: int = 0) -> list[bytes]:
    """PDFs for ``htmls`` in order; a process pool over ``workers`` cores (0: all) when worth it."""
    workers = workers or os.cpu_count() or 1
    if len(htmls) < POOL_THRESHOLD or workers == 1:
        return [html_to_pdf(html) for html in htmls]
    context = multiprocessing.get_context("forkserver")
    with ProcessPoolExecutor(max_workers=min(workers, len(htmls)), mp_context=context) as pool:
        return list(pool.map(html_to_pdf, htmls, chunksize=max(1, len(htmls) // (workers * 4))))


def render_missing(*, session: Session, brand_name: str, workers: int = 0,
                   invoice_ids: list[int] | None = None, payee: Payee | None = None) -> list[Invoice]:
    """Render and store the PDF of every issued invoice that has none yet; returns those rendered.

    Kept apart from numbering so an interrupted render is simply redone by the next call.
    Two ``issue`` commands may reach this step at once: each locks the invoices it renders
    (``FOR UPDATE SKIP LOCKED`` on PostgreSQL), so the other renders only the rest and
    never the same invoice; the document insert does nothing when a document is already
    there, and the invoice then takes the stored document's hash, so every invoice ends
    with exactly one PDF that matches its hash, and no issuer crashes.
    """
    stmt = select(Invoice).where(Invoice.number.is_not(None), Invoice.pdf_sha256.is_(None)).order_by(Invoice.id)
    if invoice_ids is not None:
        stmt = stmt.where(Invoice.id.in_(invoice_ids))
    if is_postgres(session):
        stmt = stmt.with_for_update(skip_locked=True).execution_options(populate_existing=True)
    invoices = list(session.exec(stmt).all())
    htmls = [render_html(document_context(session=session, invoice=inv, brand_name=brand_name, payee=payee))
             for inv in invoices]
    dialect = postgresql if is_postgres(session) else sqlite
    for invoice, pdf in zip(invoices, render_many(htmls, workers)):
        digest = hashlib.sha256(pdf).hexdigest()
        session.execute(dialect.insert(InvoiceDocument).values(
            invoice_id=invoice.id, pdf=pdf, sha256=digest, rendered_at=datetime.now(timezone.utc))
            .on_conflict_do_nothing(index_elements=["invoice_id"]))
        stored = session.exec(select(InvoiceDocument.sha256).where(InvoiceDocument.invoice_id == invoice.id)).one()
        invoice.pdf_sha256 = stored
    session.flush()
    return invoices


def stored_pdf(*, session: Session, invoice: Invoice) -> bytes | None:
    """The PDF as sent, or None when it has not been rendered yet."""
    document = session.get(InvoiceDocument, invoice.id)
    return document.pdf if document is not None else None
