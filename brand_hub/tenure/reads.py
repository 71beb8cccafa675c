"""What the tenure pages show (HQ only: the holders of a site and the form that moves it).

The view only parses, calls and renders; the queries are here.
"""
from __future__ import annotations

from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from . import history


def site_holders(*, session: Session, site: Site) -> dict:
    """The site's tenures (newest first) with the partners and agreements they name, by id.

    The move form takes the new holder's partner code and agreement number typed in: a list of every
    partner and agreement was most of the page (260 KB at 2,000 partners).
    """
    tenures = list(reversed(history(session=session, site=site)))
    partner_ids = {t.franchisee_id for t in tenures}
    agreement_ids = {t.agreement_id for t in tenures if t.agreement_id}
    partners = {p.id: p for p in session.exec(select(Franchisee).where(Franchisee.id.in_(partner_ids)))} \
        if partner_ids else {}
    agreements = {a.id: a for a in session.exec(select(Agreement).where(Agreement.id.in_(agreement_ids)))} \
        if agreement_ids else {}
    return {"tenures": tenures, "partners": partners, "agreements": agreements}
