"""Issue 15 (pages as the network grows 100 → 10,000 sites): lists ranked over the whole network read it once,
and a page's own figures are counted from its own rows (finance's chart is kept per state of the billing tables:
``test_kept_billing_figures``).

Each new read is compared with the one it replaces (kept here as it was) on SQLite and PostgreSQL, row for row and
page for page, one past the last included; the statements each one runs are counted.
"""
from __future__ import annotations

import random
import re
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from sqlalchemy import Float, case, cast, event, func
from sqlmodel import select

from brand_hub import registry
from brand_hub.billing import pages
from brand_hub.collection import reads as collection_reads
from brand_hub.db import is_postgres
from brand_hub.distribution import reads as distribution_reads
from brand_hub.models import Franchisee, Site, SiteStatus
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.collection import CollectionTarget
from brand_hub.models.standards import Standard, StandardAcknowledgement
from brand_hub.paging import paginate, paginate_keys
from brand_hub.scope import Scope
from tests.builders import make_agreement, make_franchisee, make_site

TODAY = date(2026, 12, 3)
NOW = datetime(2026, 12, 3, 4, 0, tzinfo=timezone.utc)


@contextmanager
def statements(session):
    """The SQL statements run on ``session``'s connection inside the block."""
    seen: list[str] = []
    engine = session.get_bind()

    def one(_conn, _cursor, statement, *_args):
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", one)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", one)


# ---------------------------------------------------------------- receivables: one pass

def _invoices(session, seed: int = 3) -> None:
    """Partners owing invoices of every age and status, some settled, some partners owing nothing."""
    rng = random.Random(seed)
    for n in range(13):
        partner = make_franchisee(session, code=f"R{n:02d}")
        agreement = make_agreement(session, partner)
        for k in range(rng.randrange(0, 5)):
            total = Decimal(rng.randrange(1, 10**6)) / 100
            paid = rng.choice((Decimal("0"), total, (total / 2).quantize(Decimal("0.01"))))
            status = InvoiceStatus.paid if paid == total else rng.choice(
                (InvoiceStatus.issued, InvoiceStatus.partially_paid, InvoiceStatus.draft))
            invoice = Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period=f"2026-{k + 6:02d}",
                              number=f"BH-{n}-{k}", status=InvoiceStatus.draft, plan_id="standard-2026",
                              due_date=TODAY + timedelta(days=rng.randrange(-200, 30)), total=total, subtotal=total,
                              amount_paid=paid)
            session.add(invoice)
            session.flush()
            invoice.status = status
            session.add(invoice)
    session.commit()


def _receivables_before(session, today, page, per_page, overdue_only, limit):
    """``pages.receivables`` as it was: the total in a statement of its own, partners grouped by name."""
    pg = is_postgres(session)
    where = [Invoice.status.in_(pages.OPEN), pages._balance(pg) > 0]
    if overdue_only:
        where.append(Invoice.due_date < today)
    buckets = pages._bucket_columns(today, pg)
    owed = func.sum(pages._balance(pg))
    grouped = (select(Franchisee.code, Franchisee.legal_name, func.count(), func.min(Invoice.due_date), *buckets)
               .join(Franchisee, Franchisee.id == Invoice.franchisee_id).where(*where)
               .group_by(Franchisee.code, Franchisee.legal_name))
    total_row = session.execute(select(func.count(func.distinct(Invoice.franchisee_id)), func.count(),
                                       func.min(Invoice.due_date), *buckets).where(*where)).one()
    stmt = grouped.order_by(owed.desc(), Franchisee.code)
    stmt = stmt.limit(limit) if limit is not None else stmt.offset((page - 1) * per_page).limit(per_page)

    def ageing(code, name, count, oldest, values):
        if isinstance(oldest, str):
            oldest = date.fromisoformat(oldest[:10])
        return pages.Ageing(code, name, int(count or 0),
                            {b: pages._money(v, pg) for b, v in zip(pages.BUCKETS, values)}, oldest)

    rows = [ageing(r[0], r[1], r[2], r[3], r[4:]) for r in session.execute(stmt)]
    return pages.Listing(rows, int(total_row[0] or 0), page, per_page), ageing("", "", total_row[1], total_row[2],
                                                                             total_row[3:])


def test_receivables_read_the_open_invoices_once_and_give_every_page_and_total_as_before(session):
    _invoices(session)
    for overdue_only in (False, True):
        for page, limit in ((1, None), (2, None), (3, None), (4, None), (9, None), (1, 100_000)):
            with statements(session) as seen:
                listing, total = pages.receivables(session=session, today=TODAY, page=page, per_page=3,
                                                   overdue_only=overdue_only, limit=limit)
            before, before_total = _receivables_before(session, TODAY, page, 3, overdue_only, limit)
            assert (listing.items, listing.total, listing.pages, total) == (before.items, before.total,
                                                                             before.pages, before_total)
            # a page with rows carries the network's total: the open invoices are read once, not twice
            assert len(seen) == (1 if listing.items else 2), seen
    listing, total = pages.receivables(session=session, today=TODAY, per_page=50)
    assert listing.total >= 5 and total.balance > 0 and total.invoices == sum(a.invoices for a in listing.items)


# ---------------------------------------------------------------- standards: the page's figures from its own rows

def _acknowledgements(session, seed: int = 5) -> None:
    rng = random.Random(seed)
    partners = [make_franchisee(session) for _ in range(3)]
    old = Standard(key="iaq", version=1, category="iaq", title_zh="空气", content={}, content_hash="a")
    new = Standard(key="iaq", version=2, category="iaq", title_zh="空气", content={}, content_hash="b")
    other = Standard(key="noise", version=1, category="acoustics", title_zh="噪声", content={}, content_hash="c")
    session.add_all([old, new, other])
    session.flush()
    for n in range(23):
        site = make_site(session, partners[n % 3])
        for standard in rng.sample([old, new, other], rng.randrange(0, 4)):
            session.add(StandardAcknowledgement(
                site_id=site.id, standard_id=standard.id, due_at=NOW + timedelta(days=rng.randrange(-9, 9)),
                acknowledged_at=NOW if rng.random() < 0.4 else None))
    session.commit()


def _sites_progress_before(session, scope, now, page, per_page):
    """``distribution.reads.sites_progress`` as it was: counted, ranked, then the page's rows joined to every
    site's counts."""
    total, done, overdue = distribution_reads._counts(now)
    per_site = (select(StandardAcknowledgement.site_id, total.label("total"), done.label("done"),
                       overdue.label("overdue"))
                .where(StandardAcknowledgement.standard_id.in_(select(Standard.id)
                                                               .where(distribution_reads._newest_version())))
                .group_by(StandardAcknowledgement.site_id))
    per_site = scope.where_site(per_site, StandardAcknowledgement.site_id).subquery()
    ranked = (select(per_site.c.site_id).join(Site, Site.id == per_site.c.site_id)
              .order_by(per_site.c.overdue.desc(), (cast(per_site.c.done, Float) / per_site.c.total).asc(),
                        Site.code))

    def load(ids):
        rows = session.exec(select(Site, per_site.c.total, per_site.c.done, per_site.c.overdue)
                            .join(per_site, per_site.c.site_id == Site.id).where(Site.id.in_(ids)))
        return {site.id: (site, distribution_reads.Progress(n, d or 0, o or 0)) for site, n, d, o in rows}

    return paginate_keys(session, ranked, load, page=page, per_page=per_page)


def test_the_standards_sites_list_ranks_in_one_pass_and_counts_the_pages_sites_from_their_own_rows(session):
    _acknowledgements(session)
    partner_ids = tuple(fid for (fid,) in session.execute(select(Franchisee.id).order_by(Franchisee.id)))[:1]
    for scope in (Scope.hq(), Scope.partner(partner_ids[0])):
        for page in (1, 2, 3, 4, 7):
            with statements(session) as seen:
                got = distribution_reads.sites_progress(session=session, scope=scope, now=NOW, page=page, per_page=4)
            before = _sites_progress_before(session, scope, NOW, page, 4)
            assert [(s.id, p) for s, p in got.items] == [(s.id, p) for s, p in before.items]
            assert (got.total, got.pages) == (before.total, before.pages)
            if got.items:
                # ranked and counted in one statement; the page's rows counted from their own acknowledgements
                # (the IN list of the page's sites inside the grouping), not joined to every site's counts
                assert len(seen) == 2, seen
                grouped = re.sub(r"\s+", " ", seen[1])
                assert re.search(r"WHERE .*standard_ack\.site_id IN .*GROUP BY standard_ack\.site_id", grouped), \
                    grouped
    assert distribution_reads.sites_progress(session=session, scope=Scope.hq(), now=NOW).total > 12  # several pages


# ---------------------------------------------------------------- feeds and configs: the count rides on the ranking

def test_the_feeds_list_counts_its_sites_and_the_failing_ones_on_the_ranked_page(session):
    rng = random.Random(9)
    partner = make_franchisee(session)
    for n in range(17):
        site = make_site(session, partner, agent_url="" if n % 7 == 0 else f"http://10.0.0.{n}:8700/",
                         status=(SiteStatus.active, SiteStatus.onboarding, SiteStatus.terminated)[n % 3])
        if n % 4:
            session.add(CollectionTarget(site_id=site.id, consecutive_failures=rng.choice((0, 0, 1, 3)),
                                         last_attempt_at=NOW if n % 5 else None))
    session.commit()
    scope = Scope.hq()
    failing_before = session.exec(collection_reads._feed_select(scope, func.coalesce(func.sum(
        case((CollectionTarget.consecutive_failures > 0, 1), else_=0)), 0))).one()
    for sort in ("state", "site", "failures", "lag"):
        order = collection_reads._feed_order(sort, False)
        for page in (1, 2, 3, 4):
            with statements(session) as seen:
                got = collection_reads.feed(session=session, scope=scope, sort=sort, descending=False, page=page,
                                            per_page=5)
            before = paginate(session, collection_reads._feed_select(scope, Site.id).order_by(*order), page=page,
                              per_page=5, scalars=True)
            assert [row.site.id for row in got.page.items] == before.items
            assert (got.page.total, got.page.pages, got.failing) == (before.total, before.pages, failing_before)
            if got.page.items:
                assert len(seen) == 2, seen   # ranked with the counts, then the page's rows (it was three)
    assert failing_before > 0


# ---------------------------------------------------------------- the sites list's filter choices

def test_the_sites_filter_choices_come_from_one_statement_as_from_three(session):
    partners = [make_franchisee(session) for _ in range(2)]
    for n, (city, region, tier) in enumerate([("上海", "east", "flagship"), ("北京", "north", "standard"),
                                              ("上海", "east", "lite"), ("", "south", "standard"),
                                              ("成都", "west", "flagship"), ("Shanghai", "east", "lite")]):
        make_site(session, partners[n % 2], city=city, region=region, tier=tier)
    session.commit()
    for franchisee_id in (None, partners[0].id, partners[1].id, -1):
        before = {}
        for name in ("city", "region", "tier"):
            column = getattr(Site, name)
            stmt = select(column).distinct().order_by(column)
            if franchisee_id is not None:
                stmt = stmt.where(Site.franchisee_id == franchisee_id)
            before[name] = [v for v in session.exec(stmt) if v]
        with statements(session) as seen:
            got = registry.site_filter_options(session=session, franchisee_id=franchisee_id)
        assert got == before and len(seen) == 1
