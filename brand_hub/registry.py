"""The registry service: partners, sites and agreements, and their bulk import/export.

One set of field cleaners serves the HQ forms, the sites CSV and the network
YAML, so a value refused in one place is refused with the same reason in all.
Bulk imports check every row before anything is written: bad rows are reported
(file, line, field, reason) and the good rows still go in; the caller decides
whether any problem cancels the whole file (``--atomic``). Rows are matched by
code or number, so running the same file again changes nothing.
"""
from __future__ import annotations

import csv
import io
import math
import re
from dataclasses import dataclass, field
from functools import lru_cache
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any
from zoneinfo import available_timezones

import yaml
from flask_babel import lazy_gettext as _l
from sqlalchemy import Numeric, cast, func, or_
from sqlmodel import Session, select

from standards.text import text_problem
from standards.loader import load_yaml

from . import audit
from .models import Agreement, AgreementStatus, Franchisee, FranchiseeStatus, Site, SiteStatus, utcnow

TIERS = ("flagship", "standard", "lite")
REGIONS = ("east", "north", "south", "west")
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
SITE_CSV_COLUMNS = ("code", "name_zh", "name_en", "franchisee", "agreement", "city", "region", "tier", "address",
                    "timezone", "opening_hours", "area_m2", "desks", "status", "opened_on", "agent_url")
SITE_SORTS = ("code", "name_zh", "city", "region", "tier", "status", "desks", "area_m2", "franchisee")


class RegistryError(Exception):
    """A registry request the hub refuses; the message says what and why."""


class NotFound(RegistryError):
    """No partner, site or agreement with that code or number."""


class InvalidValue(RegistryError):
    """One field's value is refused; ``field`` names it so a form can show it in place.

    Reasons are translatable: a form shows them in the reader's language, a
    command (no request) prints them in English.
    """

    def __init__(self, field_name: str, reason: str):
        reason = str(reason)
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class InvalidRecord(RegistryError):
    """Several fields of one record are refused at once (a form shows them all)."""

    def __init__(self, errors: dict[str, Any]):
        # plain text now (in the reader's language): a lazy string would reach pages unescaped
        errors = {name: str(reason) for name, reason in errors.items()}
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


# ---------------------------------------------------------------- look-ups

def get_site(*, session: Session, code: str) -> Site:
    """The site with this code (every area looks sites up this way)."""
    site = session.exec(select(Site).where(Site.code == code)).first()
    if site is None:
        raise NotFound(f"no site with code {code}")
    return site


def get_franchisee(*, session: Session, code: str) -> Franchisee:
    franchisee = session.exec(select(Franchisee).where(Franchisee.code == code)).first()
    if franchisee is None:
        raise NotFound(f"no partner with code {code}")
    return franchisee


def get_agreement(*, session: Session, number: str) -> Agreement:
    agreement = session.exec(select(Agreement).where(Agreement.number == number)).first()
    if agreement is None:
        raise NotFound(f"no agreement with number {number}")
    return agreement


# ---------------------------------------------------------------- overview

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


# ---------------------------------------------------------------- site search

@dataclass(frozen=True)
class SiteQuery:
    """What the sites list asks for: free text, filters, sort and page."""

    q: str = ""
    status: str = ""
    city: str = ""
    region: str = ""
    tier: str = ""
    franchisee: str = ""  # partner code
    sort: str = "code"
    direction: str = "asc"
    page: int = 1
    per_page: int = 25


@dataclass
class Page:
    items: list[Any]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, math.ceil(self.total / self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    @property
    def has_next(self) -> bool:
        return self.page < self.pages


def _site_filter(stmt, query: SiteQuery):
    if query.q:
        like = f"%{query.q.strip().lower()}%"
        stmt = stmt.where(or_(func.lower(Site.code).like(like), func.lower(Site.name_zh).like(like),
                              func.lower(Site.name_en).like(like), func.lower(Site.city).like(like),
                              func.lower(Site.address).like(like)))
    if query.status:
        stmt = stmt.where(Site.status == SiteStatus(query.status))
    if query.city:
        stmt = stmt.where(Site.city == query.city)
    if query.region:
        stmt = stmt.where(Site.region == query.region)
    if query.tier:
        stmt = stmt.where(Site.tier == query.tier)
    if query.franchisee:
        stmt = stmt.where(Franchisee.code == query.franchisee)
    return stmt


def search_sites(*, session: Session, query: SiteQuery, franchisee_id: int | None = None) -> Page:
    """Sites matching ``query``, one page of (site, partner) pairs, sorted as asked.

    ``franchisee_id`` limits the search to one partner (the portal passes the
    signed-in partner's id).
    """
    if query.status and query.status not in {s.value for s in SiteStatus}:
        raise InvalidValue("status", f"unknown status {query.status!r}")
    base = select(Site, Franchisee).join(Franchisee, Franchisee.id == Site.franchisee_id)
    if franchisee_id is not None:
        base = base.where(Site.franchisee_id == franchisee_id)
    base = _site_filter(base, query)
    total = session.exec(select(func.count()).select_from(base.subquery())).one()
    sort = query.sort if query.sort in SITE_SORTS else "code"
    column = Franchisee.code if sort == "franchisee" else getattr(Site, sort)
    if sort == "area_m2":  # stored as exact text on SQLite: order by its numeric value
        column = cast(Site.area_m2, Numeric(12, 2))
    order = column.desc() if query.direction == "desc" else column.asc()
    page = max(1, query.page)
    rows = session.exec(base.order_by(order, Site.code).offset((page - 1) * query.per_page)
                        .limit(query.per_page)).all()
    return Page(items=[tuple(r) for r in rows], total=total, page=page, per_page=query.per_page)


def site_filter_options(*, session: Session, franchisee_id: int | None = None) -> dict[str, list[str]]:
    """The distinct cities, regions and tiers in use, for the filter drop-downs."""
    options = {}
    for name in ("city", "region", "tier"):
        column = getattr(Site, name)
        stmt = select(column).distinct().order_by(column)
        if franchisee_id is not None:
            stmt = stmt.where(Site.franchisee_id == franchisee_id)
        options[name] = [v for v in session.exec(stmt) if v]
    return options


# ---------------------------------------------------------------- field cleaners

def _text(values: dict, name: str, *, required: bool = False, max_length: int = 200) -> str:
    raw = values.get(name)
    text = "" if raw is None else str(raw).strip()
    if required and not text:
        raise InvalidValue(name, _l("is required"))
    if len(text) > max_length:
        raise InvalidValue(name, _l("longer than %(n)s characters", n=max_length))
    if text_problem(text):
        raise InvalidValue(name, _l("contains control characters (such as NUL)"))
    return text


_CODE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,31}$")


def _code(values: dict, name: str) -> str:
    code = _text(values, name, required=True, max_length=32)
    if not _CODE.match(code):
        raise InvalidValue(name, _l("%(value)r is not a code (letters, digits, '-' and '_', at most 32)", value=code))
    return code


def _choice(values: dict, name: str, choices, default: str) -> str:
    text = _text(values, name) or default
    allowed = [c.value if hasattr(c, "value") else c for c in choices]
    if text not in allowed:
        raise InvalidValue(name, _l("%(value)r is not one of %(allowed)s", value=text, allowed=", ".join(allowed)))
    return text


def _date(values: dict, name: str, *, required: bool = False) -> date | None:
    raw = values.get(name)
    if isinstance(raw, date):
        return raw
    text = "" if raw is None else str(raw).strip()
    if not text:
        if required:
            raise InvalidValue(name, _l("is required"))
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InvalidValue(name, _l("%(value)r is not a date (YYYY-MM-DD)", value=text)) from None


def _decimal(values: dict, name: str) -> Decimal:
    raw = values.get(name)
    if isinstance(raw, float):
        raw = repr(raw)
    text = "" if raw is None else str(raw).strip().replace(",", "")
    if not text:
        return Decimal("0")
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidValue(name, _l("%(value)r is not a number", value=text)) from None
    if not value.is_finite() or value < 0 or value >= Decimal("1e10"):
        raise InvalidValue(name, _l("%(value)s is out of range (0 or more)", value=text))
    return value.quantize(Decimal("0.01"))


def _int(values: dict, name: str) -> int:
    raw = values.get(name)
    text = "" if raw is None else str(raw).strip()
    if not text:
        return 0
    try:
        value = int(text)
    except ValueError:
        raise InvalidValue(name, _l("%(value)r is not a whole number", value=text)) from None
    if value < 0 or value > 1_000_000:
        raise InvalidValue(name, _l("%(value)s is out of range (0 or more)", value=value))
    return value


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    """The IANA zone names this machine knows (read once: scanning them is slow)."""
    return frozenset(available_timezones())


def _zone(values: dict, name: str) -> str:
    text = _text(values, name, max_length=64) or "Asia/Shanghai"
    if text not in _zones():
        raise InvalidValue(name, _l("%(value)r is not an IANA time zone (e.g. Asia/Shanghai)", value=text))
    return text


_INTERVAL = re.compile(r"^([01]\d|2[0-4]):([0-5]\d)-([01]\d|2[0-4]):([0-5]\d)$")


def parse_opening_hours(value: Any, name: str = "opening_hours") -> dict[str, list[list[str]]]:
    """Opening hours from the mapping form or the compact text form.

    Text form, as typed in a form or a CSV cell: ``mon-fri 09:00-21:00; sat 10:00-18:00``
    (days not named are closed; ``mon-sun`` and ``daily`` work too).
    """
    if value is None or value == "" or value == {}:
        return {}
    if isinstance(value, dict):
        hours: dict[str, list[list[str]]] = {}
        for day, intervals in value.items():
            if day not in WEEKDAYS:
                raise InvalidValue(name, _l("unknown weekday %(value)r (use %(days)s)", value=day, days=", ".join(WEEKDAYS)))
            if not isinstance(intervals, list):
                raise InvalidValue(name, _l("%(value)s: expected a list of [open, close] pairs", value=day))
            hours[day] = [_interval(name, f"{pair[0]}-{pair[1]}" if isinstance(pair, list) and len(pair) == 2
                                    else str(pair)) for pair in intervals]
        return hours
    hours = {}
    for part in str(value).split(";"):
        part = part.strip()
        if not part:
            continue
        days_text, _, times_text = part.partition(" ")
        days = _days(name, days_text.strip().lower())
        intervals = [_interval(name, t) for t in times_text.replace(",", " ").split()]
        if not intervals:
            raise InvalidValue(name, _l("%(value)r: no opening times (e.g. mon-fri 09:00-21:00)", value=part))
        for day in days:
            hours.setdefault(day, []).extend(intervals)
    return hours


def _days(name: str, text: str) -> list[str]:
    if text in {"daily", "mon-sun"}:
        return list(WEEKDAYS)
    days: list[str] = []
    for piece in text.split(","):
        first, _, last = piece.partition("-")
        if first not in WEEKDAYS or (last and last not in WEEKDAYS):
            raise InvalidValue(name, _l("%(value)r is not a weekday or range (e.g. mon-fri)", value=piece))
        start, end = WEEKDAYS.index(first), WEEKDAYS.index(last or first)
        if end < start:
            raise InvalidValue(name, _l("%(value)r: the range runs backwards", value=piece))
        days.extend(WEEKDAYS[start:end + 1])
    return days


def _interval(name: str, text: str) -> list[str]:
    match = _INTERVAL.match(text.strip())
    if not match or text.strip()[:5] >= text.strip()[6:]:
        raise InvalidValue(name, _l("%(value)r is not an opening interval (e.g. 09:00-21:00)", value=text))
    opens, closes = text.strip().split("-")
    return [opens, closes]


def format_opening_hours(hours: dict[str, list[list[str]]] | None) -> str:
    """The compact text form of opening hours (what ``parse_opening_hours`` reads back)."""
    if not hours:
        return ""
    parts: list[str] = []
    run: list[str] = []
    previous = None
    for day in WEEKDAYS + ("",):
        times = " ".join(f"{a}-{b}" for a, b in hours.get(day, [])) if day else None
        if times and times == previous:
            run.append(day)
            continue
        if run and previous:
            parts.append(f"{run[0]}-{run[-1]} {previous}" if len(run) > 1 else f"{run[0]} {previous}")
        run, previous = ([day], times) if times else ([], None)
    return "; ".join(parts)


def _url(values: dict, name: str) -> str:
    text = _text(values, name, max_length=300)
    if text and not re.match(r"^https?://[^\s/]+", text):
        raise InvalidValue(name, _l("%(value)r is not an http(s) URL", value=text))
    return text


def _collect(cleaners: dict[str, Any]) -> dict[str, Any]:
    """Run every cleaner; gather all refusals so a form or row reports them together."""
    cleaned, errors = {}, {}
    for name, cleaner in cleaners.items():
        try:
            cleaned[name] = cleaner()
        except InvalidValue as exc:
            errors[exc.field] = exc.reason
    if errors:
        raise InvalidRecord(errors)
    return cleaned


def clean_franchisee(values: dict) -> dict[str, Any]:
    """Typed, checked partner fields from strings (form, YAML)."""
    return _collect({
        "code": lambda: _code(values, "code"),
        "legal_name": lambda: _text(values, "legal_name", required=True),
        "name_en": lambda: _text(values, "name_en"),
        "unified_credit_code": lambda: _text(values, "unified_credit_code", max_length=32),
        "contact_name": lambda: _text(values, "contact_name", max_length=100),
        "contact_email": lambda: _email(values, "contact_email"),
        "contact_phone": lambda: _text(values, "contact_phone", max_length=50),
        "address": lambda: _text(values, "address", max_length=300),
        "status": lambda: FranchiseeStatus(_choice(values, "status", FranchiseeStatus, "active")),
    })


def _email(values: dict, name: str) -> str:
    text = _text(values, name)
    if text and not re.match(r"^[^@\s]+@[^@\s]+\.[^@\s]+$", text):
        raise InvalidValue(name, _l("%(value)r is not an e-mail address", value=text))
    return text


def clean_agreement(values: dict) -> dict[str, Any]:
    """Typed, checked agreement fields; ``franchisee`` is the partner's code."""
    cleaned = _collect({
        "number": lambda: _code(values, "number"),
        "franchisee": lambda: _code(values, "franchisee"),
        "start_date": lambda: _date(values, "start_date", required=True),
        "end_date": lambda: _date(values, "end_date"),
        "royalty_plan_id": lambda: _text(values, "royalty_plan_id", max_length=80) or "standard-2026",
        "territory": lambda: _text(values, "territory"),
        "status": lambda: AgreementStatus(_choice(values, "status", AgreementStatus, "active")),
    })
    if cleaned["end_date"] and cleaned["end_date"] < cleaned["start_date"]:
        raise InvalidRecord({"end_date": _l("ends before it starts")})
    return cleaned


def clean_site(values: dict) -> dict[str, Any]:
    """Typed, checked site fields; ``franchisee`` is a partner code, ``agreement`` a number."""
    return _collect({
        "code": lambda: _code(values, "code"),
        "name_zh": lambda: _text(values, "name_zh", required=True),
        "name_en": lambda: _text(values, "name_en"),
        "franchisee": lambda: _code(values, "franchisee"),
        "agreement": lambda: _text(values, "agreement", max_length=40),
        "city": lambda: _text(values, "city", required=True, max_length=80),
        "region": lambda: _choice(values, "region", REGIONS, "east"),
        "tier": lambda: _choice(values, "tier", TIERS, "standard"),
        "address": lambda: _text(values, "address", max_length=300),
        "timezone": lambda: _zone(values, "timezone"),
        "opening_hours": lambda: parse_opening_hours(values.get("opening_hours")),
        "area_m2": lambda: _decimal(values, "area_m2"),
        "desks": lambda: _int(values, "desks"),
        "status": lambda: SiteStatus(_choice(values, "status", SiteStatus, "onboarding")),
        "opened_on": lambda: _date(values, "opened_on"),
        "agent_url": lambda: _url(values, "agent_url"),
    })


# ---------------------------------------------------------------- saving

@dataclass
class Saved:
    """What a save did: the object, and whether it was new or changed at all."""

    obj: Any
    created: bool
    changed: bool


def _apply(obj, fields: dict[str, Any]) -> bool:
    changed = False
    for name, value in fields.items():
        if getattr(obj, name) != value:
            setattr(obj, name, value)
            changed = True
    return changed


def save_franchisee(*, session: Session, actor: audit.Actor, values: dict,
                    existing: Franchisee | None = None, new: bool = False) -> Saved:
    """Create a partner, or update ``existing`` (or the one with the same code).

    ``new`` (a "new partner" form) refuses a code that is taken instead of
    updating that partner.
    """
    fields = clean_franchisee(values)
    franchisee = existing or session.exec(select(Franchisee).where(Franchisee.code == fields["code"])).first()
    if (new and franchisee is not None) or (existing is not None and fields["code"] != existing.code):
        _must_be_free(session, Franchisee, Franchisee.code, fields["code"], "code")
    return _save(session, actor, "franchisee", franchisee, Franchisee, fields)


def save_agreement(*, session: Session, actor: audit.Actor, values: dict,
                   existing: Agreement | None = None, new: bool = False) -> Saved:
    """Create an agreement, or update ``existing`` (or the one with the same number; not when ``new``)."""
    fields = clean_agreement(values)
    partner_code = fields.pop("franchisee")
    partner = session.exec(select(Franchisee).where(Franchisee.code == partner_code)).first()
    if partner is None:
        raise InvalidRecord({"franchisee": _l("no partner with code %(code)s", code=partner_code)})
    fields["franchisee_id"] = partner.id
    agreement = existing or session.exec(select(Agreement).where(Agreement.number == fields["number"])).first()
    if (new and agreement is not None) or (existing is not None and fields["number"] != existing.number):
        _must_be_free(session, Agreement, Agreement.number, fields["number"], "number")
    return _save(session, actor, "agreement", agreement, Agreement, fields)


def resolve_site_refs(*, session: Session, fields: dict[str, Any]) -> dict[str, Any]:
    """Turn the partner code and agreement number of cleaned site fields into ids."""
    fields = dict(fields)
    partner_code, number = fields.pop("franchisee"), fields.pop("agreement")
    partner = session.exec(select(Franchisee).where(Franchisee.code == partner_code)).first()
    if partner is None:
        raise InvalidRecord({"franchisee": _l("no partner with code %(code)s", code=partner_code)})
    fields["franchisee_id"] = partner.id
    fields["agreement_id"] = None
    if number:
        agreement = session.exec(select(Agreement).where(Agreement.number == number)).first()
        if agreement is None:
            raise InvalidRecord({"agreement": _l("no agreement with number %(number)s", number=number)})
        if agreement.franchisee_id != partner.id:
            raise InvalidRecord({"agreement": _l("agreement %(number)s belongs to another partner", number=number)})
        fields["agreement_id"] = agreement.id
    return fields


def save_site(*, session: Session, actor: audit.Actor, values: dict, existing: Site | None = None,
              new: bool = False) -> Saved:
    """Create a site, or update ``existing`` (or the one with the same code; not when ``new``)."""
    fields = resolve_site_refs(session=session, fields=clean_site(values))
    site = existing or session.exec(select(Site).where(Site.code == fields["code"])).first()
    if (new and site is not None) or (existing is not None and fields["code"] != existing.code):
        _must_be_free(session, Site, Site.code, fields["code"], "code")
    return _save(session, actor, "site", site, Site, fields)


def _must_be_free(session: Session, model, column, value: str, name: str) -> None:
    if session.exec(select(model).where(column == value)).first() is not None:
        raise InvalidRecord({name: _l("%(value)s is taken already", value=value)})


def _save(session: Session, actor: audit.Actor, kind: str, obj, model, fields: dict[str, Any],
          created: list | None = None) -> Saved:
    """Create or update one object with its audit event.

    Bulk imports pass ``created``: new objects are collected there and
    inserted together by ``_insert_created`` (one batch instead of a round
    trip per row); their audit events follow once they have ids.
    """
    if obj is None:
        obj = model(**fields)
        session.add(obj)
        if created is not None:
            created.append(obj)
        else:
            _insert_created(session, actor, kind, [obj])
        return Saved(obj, created=True, changed=True)
    before = audit.snapshot(obj)
    if not _apply(obj, fields):
        return Saved(obj, created=False, changed=False)
    if hasattr(obj, "updated_at"):
        obj.updated_at = utcnow()
    session.add(obj)
    after = audit.snapshot(obj)
    before.pop("updated_at", None), after.pop("updated_at", None)
    audit.record(session=session, actor=actor, action=f"{kind}.update", entity_type=kind,
                 entity_id=_entity_id(obj), before=before, after=after)
    return Saved(obj, created=False, changed=True)


def _insert_created(session: Session, actor: audit.Actor, kind: str, objects: list) -> None:
    session.flush()
    for obj in objects:
        audit.record(session=session, actor=actor, action=f"{kind}.create", entity_type=kind,
                     entity_id=_entity_id(obj), after=audit.snapshot(obj))


def _entity_id(obj) -> str:
    """Registry objects are named in the audit log by code or number, as people know them."""
    return str(getattr(obj, "code", None) or getattr(obj, "number", None) or obj.id)


# ---------------------------------------------------------------- bulk import

@dataclass(frozen=True, order=True)
class RowProblem:
    """One refused row: where (file and line), which field, why."""

    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[RowProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, saved: Saved) -> None:
        if saved.created:
            self.created += 1
        elif saved.changed:
            self.updated += 1
        else:
            self.unchanged += 1


def import_sites_csv(*, session: Session, actor: audit.Actor, text: str, file: str = "sites.csv") -> ImportResult:
    """Create or update sites from a CSV (header row with ``SITE_CSV_COLUMNS``; UTF-8).

    Each bad row is reported with its line and reason and skipped; the good rows
    are added to ``session``. A code appearing twice in the file is refused at
    its second line.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in ("code", "name_zh", "franchisee", "city") if c not in header]
    unknown = [c for c in header if c not in SITE_CSV_COLUMNS]
    if missing or unknown:
        reason = "; ".join(filter(None, [
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unknown column(s) {', '.join(unknown)}" if unknown else ""]))
        result.problems.append(RowProblem(file, 1, f"header: {reason} (columns: {', '.join(SITE_CSV_COLUMNS)})"))
        return result
    refs = _RefCache(session)
    seen: dict[str, int] = {}
    created: list[Site] = []
    try:
        _import_rows(session, actor, reader, refs, seen, created, result, file, len(header))
    except csv.Error as exc:  # e.g. a NUL byte or an unclosed quote: the rest cannot be read
        result.problems.append(RowProblem(file, reader.line_num + 1, f"not readable as CSV: {exc}; rows from here on "
                                                                     "were not imported"))
    _insert_created(session, actor, "site", created)
    return result


def _import_rows(session: Session, actor: audit.Actor, reader: csv.DictReader, refs: "_RefCache",
                 seen: dict[str, int], created: list, result: ImportResult, file: str, columns: int) -> None:
    for row in reader:
        line = reader.line_num
        if None in row:
            result.problems.append(RowProblem(file, line, f"more cells than the {columns} columns"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            fields = clean_site(row)
            if fields["code"] in seen:
                raise InvalidRecord({"code": f"{fields['code']} appears already at line {seen[fields['code']]}"})
            seen[fields["code"]] = line
            result.count(_save(session, actor, "site", refs.site(fields["code"]), Site, refs.resolve(fields),
                               created))
        except InvalidRecord as exc:
            result.problems.append(RowProblem(file, line, _row_reason(row.get("code"), exc)))


def _row_reason(code: str | None, exc: InvalidRecord) -> str:
    where = f"site {code.strip()}: " if code and code.strip() else ""
    return where + "; ".join(f"{k}: {v}" for k, v in exc.errors.items())


class _RefCache:
    """Partners, agreements and sites loaded once per import, so big files stay fast."""

    def __init__(self, session: Session):
        self.session = session
        self.partners = {f.code: f for f in session.exec(select(Franchisee))}
        self.agreements = {a.number: a for a in session.exec(select(Agreement))}
        self.sites = {s.code: s for s in session.exec(select(Site))}
        self.seen_partners: set[str] = set()
        self.seen_agreements: set[str] = set()
        self.seen_sites: set[str] = set()

    def site(self, code: str) -> Site | None:
        return self.sites.get(code)

    def resolve(self, fields: dict[str, Any]) -> dict[str, Any]:
        fields = dict(fields)
        partner_code, number = fields.pop("franchisee"), fields.pop("agreement")
        partner = self.partners.get(partner_code)
        if partner is None:
            raise InvalidRecord({"franchisee": _l("no partner with code %(code)s", code=partner_code)})
        fields["franchisee_id"], fields["agreement_id"] = partner.id, None
        if number:
            agreement = self.agreements.get(number)
            if agreement is None:
                raise InvalidRecord({"agreement": _l("no agreement with number %(number)s", number=number)})
            if agreement.franchisee_id != partner.id:
                raise InvalidRecord({"agreement": _l("agreement %(number)s belongs to another partner", number=number)})
            fields["agreement_id"] = agreement.id
        return fields


def import_network_yaml(*, session: Session, actor: audit.Actor, text: str,
                        file: str = "network.yaml") -> ImportResult:
    """Create or update partners, agreements and sites from a network file.

    The file has three lists, ``franchisees``, ``agreements`` and ``sites``,
    each entry with the fields of its kind (agreements name their partner by
    ``franchisee`` code, sites their partner and ``agreement`` number). Every
    refused entry is reported at its line; the rest go in, partners first.
    A problem with the file itself (syntax, duplicate keys, aliases, values
    that cannot be read) refuses the whole file: nothing is created.
    """
    result = ImportResult()
    doc = load_yaml(text, file)
    if doc.problems:
        result.problems.extend(RowProblem(p.file, p.line, p.message) for p in doc.problems)
        return result  # a file read ambiguously (duplicate keys, aliases, bad values) imports nothing
    if not isinstance(doc.data, dict):
        result.problems.append(RowProblem(file, 1, "expected a mapping with franchisees, agreements and sites"))
        return result
    unknown = sorted(set(doc.data) - {"franchisees", "agreements", "sites"})
    for key in unknown:
        result.problems.append(RowProblem(file, doc.line_of([key]),
                                          f"unknown section '{key}' (use franchisees, agreements, sites)"))
    refs = _RefCache(session)
    for section, handler in (("franchisees", _import_partner), ("agreements", _import_agreement),
                             ("sites", _import_site)):
        entries = doc.data.get(section) or []
        if not isinstance(entries, list):
            result.problems.append(RowProblem(file, doc.line_of([section]), f"{section}: expected a list"))
            continue
        created: list = []
        for index, entry in enumerate(entries):
            line = doc.line_of([section, index])
            if not isinstance(entry, dict):
                result.problems.append(RowProblem(file, line, f"{section}[{index}]: expected a mapping"))
                continue
            try:
                result.count(handler(session, actor, refs, entry, created))
            except InvalidRecord as exc:
                field_name = next(iter(exc.errors))
                label = entry.get("code") or entry.get("number") or f"{section}[{index}]"
                result.problems.append(RowProblem(file, doc.line_of([section, index, field_name]),
                                                  f"{section[:-1]} {label}: " + "; ".join(
                                                      f"{k}: {v}" for k, v in exc.errors.items())))
        _insert_created(session, actor, _KINDS[section], created)  # later sections need their ids
    return result


_KINDS = {"franchisees": "franchisee", "agreements": "agreement", "sites": "site"}


def _import_partner(session: Session, actor: audit.Actor, refs: _RefCache, entry: dict, created: list) -> Saved:
    fields = clean_franchisee(entry)
    if fields["code"] in refs.seen_partners:
        raise InvalidRecord({"code": f"{fields['code']} appears twice in the file"})
    refs.seen_partners.add(fields["code"])
    saved = _save(session, actor, "franchisee", refs.partners.get(fields["code"]), Franchisee, fields, created)
    refs.partners[saved.obj.code] = saved.obj
    return saved


def _import_agreement(session: Session, actor: audit.Actor, refs: _RefCache, entry: dict, created: list) -> Saved:
    fields = clean_agreement(entry)
    partner = refs.partners.get(fields.pop("franchisee"))
    if partner is None:
        raise InvalidRecord({"franchisee": f"no partner with code {entry.get('franchisee')}"})
    fields["franchisee_id"] = partner.id
    if fields["number"] in refs.seen_agreements:
        raise InvalidRecord({"number": f"{fields['number']} appears twice in the file"})
    refs.seen_agreements.add(fields["number"])
    saved = _save(session, actor, "agreement", refs.agreements.get(fields["number"]), Agreement, fields, created)
    refs.agreements[saved.obj.number] = saved.obj
    return saved


def _import_site(session: Session, actor: audit.Actor, refs: _RefCache, entry: dict, created: list) -> Saved:
    fields = refs.resolve(clean_site(entry))
    if fields["code"] in refs.seen_sites:
        raise InvalidRecord({"code": f"{fields['code']} appears twice in the file"})
    refs.seen_sites.add(fields["code"])
    saved = _save(session, actor, "site", refs.site(fields["code"]), Site, fields, created)
    refs.sites[saved.obj.code] = saved.obj
    return saved


# ---------------------------------------------------------------- export

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
