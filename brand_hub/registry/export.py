"""Export: the network file, the form values of one record, the sites list as CSV."""
from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import yaml
from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site, SiteStatus
from .fields import SITE_CSV_COLUMNS, format_opening_hours


def export_network(*, session: Session) -> dict[str, list[dict[str, Any]]]:
    """The whole registry as plain data, in the network file's shape (import reads it back)."""
    partners = {f.id: f for f in session.exec(select(Franchisee).order_by(Franchisee.code))}
    agreements = {a.id: a for a in session.exec(select(Agreement).order_by(Agreement.number))}
    out: dict[str, list[dict[str, Any]]] = {"franchisees": [], "agreements": [], "sites": []}
    for f in partners.values():
        out["franchisees"].append(export_partner_values(f))
    for a in agreements.values():
        out["agreements"].append({"number": a.number, "franchisee": partners[a.franchisee_id].code,
                                  **{k: _plain(getattr(a, k)) for k in (
                                      "start_date", "end_date", "royalty_plan_id", "territory", "status")}})
    for s in session.exec(select(Site).order_by(Site.code)):
        out["sites"].append({
            "code": s.code, "name_zh": s.name_zh, "name_en": s.name_en,
            "franchisee": partners[s.franchisee_id].code,
            "agreement": agreements[s.agreement_id].number if s.agreement_id else "",
            **{k: _plain(getattr(s, k)) for k in ("city", "region", "tier", "address", "timezone",
                                                  "opening_hours", "area_m2", "desks", "status", "opened_on",
                                                  "agent_url")}})
    return out


def export_partner_values(franchisee: Franchisee) -> dict[str, Any]:
    """A partner's fields as the form and the network file write them."""
    return {k: _plain(getattr(franchisee, k)) for k in (
        "code", "legal_name", "name_en", "unified_credit_code", "contact_name", "contact_email",
        "contact_phone", "address", "status")}


def export_agreement_values(agreement: Agreement, partner_code: str) -> dict[str, Any]:
    return {"number": agreement.number, "franchisee": partner_code,
            **{k: _plain(getattr(agreement, k)) or "" for k in (
                "start_date", "end_date", "royalty_plan_id", "territory", "status")}}


def export_site_values(*, session: Session, site: Site) -> dict[str, Any]:
    """A site's fields as the form shows them (opening hours in the compact text form)."""
    partner = session.get(Franchisee, site.franchisee_id)
    agreement = session.get(Agreement, site.agreement_id) if site.agreement_id else None
    values = {k: _plain(getattr(site, k)) for k in (
        "code", "name_zh", "name_en", "city", "region", "tier", "address", "timezone", "area_m2", "desks",
        "status", "opened_on", "agent_url")}
    values.update(franchisee=partner.code, agreement=agreement.number if agreement else "",
                  opening_hours=format_opening_hours(site.opening_hours))
    return values


def _plain(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, date):
        return value.isoformat()
    if hasattr(value, "value"):
        return value.value
    return value


def network_yaml(data: dict[str, Any]) -> str:
    """The network file text: readable Chinese, stable key order, diff-friendly."""
    dumper = getattr(yaml, "CSafeDumper", yaml.SafeDumper)  # libyaml when present: ten times faster
    return yaml.dump(data, Dumper=dumper, allow_unicode=True, sort_keys=False, default_flow_style=False, width=120)


def agreement_numbers(*, session: Session) -> dict[int, str]:
    """Every agreement's number by id (what ``sites_csv`` writes in a site's agreement column)."""
    return dict(session.exec(select(Agreement.id, Agreement.number)).all())


def sites_csv(rows: list[tuple[Site, Franchisee]], agreements: dict[int, str]) -> str:
    """Sites as CSV in the import's columns (so a list can be edited and imported back)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(SITE_CSV_COLUMNS)
    for site, partner in rows:
        writer.writerow([site.code, site.name_zh, site.name_en, partner.code,
                         agreements.get(site.agreement_id, "") if site.agreement_id else "", site.city,
                         site.region, site.tier, site.address, site.timezone,
                         format_opening_hours(site.opening_hours), format(site.area_m2, "f"), site.desks,
                         SiteStatus(site.status).value, site.opened_on.isoformat() if site.opened_on else "",
                         site.agent_url])
    return buffer.getvalue()
