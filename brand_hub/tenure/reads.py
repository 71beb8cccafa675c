"""What the tenure pages show (HQ only: the holders of a site and the form that moves it).

The view only parses, calls and renders; the queries are here.
"""
from __future__ import annotations

from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from . import history


def site_holders(*, session: Session, site: Site) -> dict:
    """The site's tenures (newest first), every partner and agreement by id, and the move form's choices.

    ``partner_options``: (code, "legal name · code") by partner code; ``agreement_options``:
    (number, "number · partner code") by agreement number.
    """
    partners = {p.id: p for p in session.exec(select(Franchisee).order_by(Franchisee.code))}
    agreements = {a.id: a for a in session.exec(select(Agreement).order_by(Agreement.number))}
    return {"tenures": list(reversed(history(session=session, site=site))),
            "partners": partners, "agreements": agreements,
            "partner_options": [(p.code, f"{p.legal_name} · {p.code}") for p in partners.values()],
            "agreement_options": [(a.number, f"{a.number} · {partners[a.franchisee_id].code}")
                                  for a in agreements.values() if a.franchisee_id in partners]}
