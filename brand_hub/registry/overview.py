"""Network totals for the HQ front page: sites by status, city, tier and region."""
from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from sqlalchemy import func
from sqlmodel import Session, select

from ..models import Agreement, AgreementStatus, Franchisee, FranchiseeStatus, Site, SiteStatus
from .fields import TIERS


@dataclass
class NetworkOverview:
    sites_by_status: dict[str, int] = field(default_factory=dict)
    sites_by_city: dict[str, int] = field(default_factory=dict)
    sites_by_tier: dict[str, int] = field(default_factory=dict)
    sites_by_region: dict[str, int] = field(default_factory=dict)
    partners_by_status: dict[str, int] = field(default_factory=dict)
    total_sites: int = 0
    total_desks: int = 0
    total_area_m2: Decimal = Decimal("0")
    active_agreements: int = 0


def network_overview(*, session: Session) -> NetworkOverview:
    """Counts of sites by status, city, tier and region, for the HQ front page."""
    overview = NetworkOverview()
    for status in SiteStatus:
        overview.sites_by_status[status.value] = 0
    for status, count in session.exec(select(Site.status, func.count()).group_by(Site.status)):
        overview.sites_by_status[SiteStatus(status).value] = count
    for city, count in session.exec(select(Site.city, func.count()).group_by(Site.city)
                                    .order_by(func.count().desc(), Site.city)):
        overview.sites_by_city[city] = count
    tiers = dict(session.exec(select(Site.tier, func.count()).group_by(Site.tier)).all())
    for tier in sorted(tiers, key=lambda t: (TIERS.index(t) if t in TIERS else len(TIERS), t)):
        overview.sites_by_tier[tier] = tiers[tier]  # flagship, standard, lite: the brand's order
    for region, count in session.exec(select(Site.region, func.count()).group_by(Site.region).order_by(Site.region)):
        overview.sites_by_region[region or "—"] = count
    for status, count in session.exec(select(Franchisee.status, func.count()).group_by(Franchisee.status)):
        overview.partners_by_status[FranchiseeStatus(status).value] = count
    overview.total_sites = sum(overview.sites_by_status.values())
    live = [SiteStatus.active, SiteStatus.onboarding]
    overview.total_desks = session.exec(select(func.coalesce(func.sum(Site.desks), 0))
                                        .where(Site.status.in_(live))).one()
    overview.total_area_m2 = sum((s for s in session.exec(select(Site.area_m2).where(Site.status.in_(live)))),
                                 Decimal("0"))
    overview.active_agreements = session.exec(select(func.count()).select_from(Agreement)
                                              .where(Agreement.status == AgreementStatus.active)).one()
    return overview
