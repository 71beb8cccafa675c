"""One way to turn the codes a person writes (partner code, agreement number) into ids.

A form or a single save asks the database one record at a time; a bulk import
loads every partner, agreement and site once (``References.preloaded``) so big
files stay fast. Both resolve a site's references with the same checks and the
same reasons.
"""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l
from sqlmodel import Session, select

from ..models import Agreement, Franchisee, Site
from .errors import InvalidRecord, no_agreement, no_partner


class References:
    """Partners, agreements and sites by code or number, read from the session or preloaded."""

    def __init__(self, session: Session, *, preload: bool = False):
        self.session = session
        self.preloaded = preload
        self.partners: dict[str, Franchisee] = {}
        self.agreements: dict[str, Agreement] = {}
        self.sites: dict[str, Site] = {}
        if preload:
            self.partners = {f.code: f for f in session.exec(select(Franchisee))}
            self.agreements = {a.number: a for a in session.exec(select(Agreement))}
            self.sites = {s.code: s for s in session.exec(select(Site))}
        self.seen_partners: set[str] = set()
        self.seen_agreements: set[str] = set()
        self.seen_sites: set[str] = set()

    def partner(self, code: str) -> Franchisee | None:
        if self.preloaded:
            return self.partners.get(code)
        return self.session.exec(select(Franchisee).where(Franchisee.code == code)).first()

    def agreement(self, number: str) -> Agreement | None:
        if self.preloaded:
            return self.agreements.get(number)
        return self.session.exec(select(Agreement).where(Agreement.number == number)).first()

    def site(self, code: str) -> Site | None:
        if self.preloaded:
            return self.sites.get(code)
        return self.session.exec(select(Site).where(Site.code == code)).first()

    def partner_id(self, code: str) -> int:
        """The id of the partner with ``code``; refused (on field ``franchisee``) when there is none."""
        partner = self.partner(code)
        if partner is None:
            raise InvalidRecord({"franchisee": no_partner(code)})
        return partner.id

    def site_fields(self, fields: dict[str, Any]) -> dict[str, Any]:
        """Cleaned site fields with the partner code and agreement number turned into ids."""
        fields = dict(fields)
        partner_code, number = fields.pop("franchisee"), fields.pop("agreement")
        fields["franchisee_id"], fields["agreement_id"] = self.partner_id(partner_code), None
        if number:
            agreement = self.agreement(number)
            if agreement is None:
                raise InvalidRecord({"agreement": no_agreement(number)})
            if agreement.franchisee_id != fields["franchisee_id"]:
                raise InvalidRecord({"agreement": _l("agreement %(number)s belongs to another partner", number=number)})
            fields["agreement_id"] = agreement.id
        return fields


def resolve_site_refs(*, session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Turn the partner code and agreement number of cleaned site fields into ids."""
    return References(session).site_fields(fields)
