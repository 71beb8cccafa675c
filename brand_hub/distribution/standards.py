"""Brand standards: publish immutable versions, give sites acknowledgement due dates, track progress."""
from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask_babel import lazy_gettext as _l
from sqlalchemy import insert
from sqlmodel import Session, select

from standards import site_config
from standards.loader import InvalidFiles, Problem
from standards.standard_format import StandardSpec, applies_to

from ..audit import Actor, record
from ..models import Site, SiteStatus, User
from ..models.standards import Standard, StandardAcknowledgement
from . import DistributionError


@dataclass
class StandardsPublish:
    """What a publish did: new versions, standards left as they were, acknowledgements asked for."""

    published: list[Standard] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    acknowledgements: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.published or self.acknowledgements)


def latest_standards(*, session: Session) -> dict[str, Standard]:
    """The newest published version of every standard, by key."""
    latest: dict[str, Standard] = {}
    for standard in session.exec(select(Standard).order_by(Standard.key, Standard.version)):
        latest[standard.key] = standard
    return latest


def publish_standards(*, session: Session, specs: list[StandardSpec], actor: Actor,
                      now: datetime) -> StandardsPublish:
    """Publish every standard whose content changed as a new immutable version.

    A changed standard must carry a higher version than the one published, otherwise
    the whole folder is refused (a version number means one content, forever).
    Unchanged standards create nothing; active sites that lack an acknowledgement of
    the newest version of a standard that applies to them get one with a due date.
    """
    latest = latest_standards(session=session)
    problems: list[Problem] = []
    changed: list[StandardSpec] = []
    result = StandardsPublish()
    for spec in specs:
        current = latest.get(spec.key)
        if current is not None and current.content_hash == spec.hash:
            result.unchanged.append(spec.key)
        elif current is not None and spec.version <= current.version:
            problems.append(Problem(spec.file, spec.line, f"'{spec.key}' changed but version {spec.version} is "
                                    f"already published (newest {current.version}); raise the version"))
        else:
            changed.append(spec)
    if problems:
        raise InvalidFiles(problems)
    for spec in changed:
        standard = Standard(key=spec.key, version=spec.version, category=spec.category, title_zh=spec.title_zh,
                            title_en=spec.title_en, content=spec.content, content_hash=spec.hash,
                            ack_days=spec.ack_days, published_at=now, published_by=actor.label)
        session.add(standard)
        session.flush()
        record(session=session, actor=actor, action="standard.publish", entity_type="standard",
               entity_id=f"{spec.key}@{spec.version}", after={"key": spec.key, "version": spec.version,
                                                               "hash": spec.hash})
        result.published.append(standard)
    result.acknowledgements = request_acknowledgements(session=session, now=now)
    return result


def request_acknowledgements(*, session: Session, now: datetime) -> int:
    """Give every active site a due date for the newest version of each standard that applies to it."""
    sites = list(session.exec(select(Site).where(Site.status == SiteStatus.active)))
    rows = []
    for standard in latest_standards(session=session).values():
        asked = set(session.exec(select(StandardAcknowledgement.site_id)
                                 .where(StandardAcknowledgement.standard_id == standard.id)))
        due = max(now, standard.published_at) + timedelta(days=standard.ack_days)
        rows += [{"site_id": site.id, "standard_id": standard.id, "due_at": due} for site in sites
                 if site.id not in asked and applies_to(standard.content, tier=site.tier, region=site.region)]
    if rows:  # one multi-row insert: a network of thousands of sites gets tens of thousands of these
        session.execute(insert(StandardAcknowledgement), rows)
    return len(rows)


def acknowledge(*, session: Session, ack: StandardAcknowledgement, user: User, now: datetime) -> None:
    """Record that ``user`` acknowledged this version for this site (once; the first answer stands)."""
    if ack.acknowledged_at is not None:
        raise DistributionError(_l("this standard was already acknowledged for this site"))
    standard = session.get(Standard, ack.standard_id)
    latest = latest_standards(session=session).get(standard.key)
    if latest is not None and latest.id != standard.id:
        raise DistributionError(_l("a newer version of this standard was published; acknowledge that one"))
    ack.acknowledged_at = now
    ack.acknowledged_by_id = user.id
    session.add(ack)


@dataclass(frozen=True)
class Pending:
    """One acknowledgement a site still owes, with what changed since the version it last acknowledged."""

    ack: StandardAcknowledgement
    standard: Standard
    site: Site
    previous: Standard | None
    text_diff: list[str]
    rule_changes: list[site_config.Change]

    def overdue(self, now: datetime) -> bool:
        return self.ack.acknowledged_at is None and self.ack.due_at < now


def pending_for_sites(*, session: Session, sites: list[Site]) -> list[Pending]:
    """The open acknowledgements of ``sites`` (newest versions only), soonest due first."""
    latest_ids = {s.id for s in latest_standards(session=session).values()}
    by_id = {s.id: s for s in sites}
    rows = session.exec(select(StandardAcknowledgement, Standard)
                        .join(Standard, Standard.id == StandardAcknowledgement.standard_id)
                        .where(StandardAcknowledgement.site_id.in_(list(by_id)),
                               StandardAcknowledgement.acknowledged_at.is_(None))
                        .order_by(StandardAcknowledgement.due_at, Standard.key)).all()
    pending = []
    for ack, standard in rows:
        if standard.id not in latest_ids:
            continue
        previous = last_acknowledged(session=session, site_id=ack.site_id, key=standard.key)
        pending.append(Pending(ack, standard, by_id[ack.site_id], previous, *changes(previous, standard)))
    return pending


def last_acknowledged(*, session: Session, site_id: int, key: str) -> Standard | None:
    """The newest version of standard ``key`` that the site has acknowledged."""
    return session.exec(select(Standard).join(StandardAcknowledgement,
                                              StandardAcknowledgement.standard_id == Standard.id)
                        .where(Standard.key == key, StandardAcknowledgement.site_id == site_id,
                               StandardAcknowledgement.acknowledged_at.is_not(None))
                        .order_by(Standard.version.desc())).first()


def changes(old: Standard | None, new: Standard) -> tuple[list[str], list[site_config.Change]]:
    """A line diff of the requirement text (both languages) and the changed fields, rules included."""
    if old is None:
        return [], []
    text = []
    for lang in ("zh", "en"):
        before = old.content["text"][lang].splitlines()
        after = new.content["text"][lang].splitlines()
        text += [line for line in difflib.unified_diff(before, after, f"v{old.version} {lang}",
                                                       f"v{new.version} {lang}", lineterm="", n=1)]
    fields = site_config.diff(_comparable(old.content), _comparable(new.content))
    return text, fields


def _comparable(content: dict) -> dict:
    """The content without text and version, rules keyed by their id so a change names the rule and field."""
    out = {k: v for k, v in content.items() if k not in ("text", "version")}
    out["rules"] = {rule["id"]: rule for rule in content.get("rules", [])}
    return out


def get_standard(*, session: Session, key: str, version: int) -> Standard:
    found = session.exec(select(Standard).where(Standard.key == key, Standard.version == version)).first()
    if found is None:
        raise DistributionError(_l("no standard '%(key)s' version %(version)s", key=key, version=version))
    return found


def standard_versions(*, session: Session, key: str) -> list[Standard]:
    return list(session.exec(select(Standard).where(Standard.key == key).order_by(Standard.version.desc())))


@dataclass(frozen=True)
class Progress:
    """Acknowledgements of one standard version (or of one site): done, open, overdue."""

    total: int
    done: int
    overdue: int

    @property
    def share(self) -> float:
        return self.done / self.total if self.total else 1.0


def _progress(acks: list[StandardAcknowledgement], now: datetime) -> Progress:
    done = sum(a.acknowledged_at is not None for a in acks)
    overdue = sum(a.acknowledged_at is None and a.due_at < now for a in acks)
    return Progress(len(acks), done, overdue)


def progress_by_standard(*, session: Session, now: datetime) -> list[tuple[Standard, Progress]]:
    """For the newest version of every standard, how many sites acknowledged it and how many are late."""
    out = []
    for standard in sorted(latest_standards(session=session).values(), key=lambda s: (s.category, s.key)):
        acks = list(session.exec(select(StandardAcknowledgement)
                                 .where(StandardAcknowledgement.standard_id == standard.id)))
        out.append((standard, _progress(acks, now)))
    return out


def progress_by_site(*, session: Session, now: datetime) -> list[tuple[Site, Progress]]:
    """For every site with acknowledgements of the newest versions: done, open and overdue."""
    latest_ids = [s.id for s in latest_standards(session=session).values()]
    acks = list(session.exec(select(StandardAcknowledgement)
                             .where(StandardAcknowledgement.standard_id.in_(latest_ids))))
    by_site: dict[int, list[StandardAcknowledgement]] = {}
    for ack in acks:
        by_site.setdefault(ack.site_id, []).append(ack)
    sites = {s.id: s for s in session.exec(select(Site).where(Site.id.in_(list(by_site))))}
    rows = [(sites[site_id], _progress(items, now)) for site_id, items in by_site.items()]
    return sorted(rows, key=lambda r: (-r[1].overdue, r[1].share, r[0].code))
