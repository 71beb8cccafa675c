"""Issue 10 (speed): finance's pages computed another way give what the whole computation gives, row for row.

The revenue reports without a state filter are paged first and figured after (only the page's partners and
months); the figures, totals, row count and every page must be those of the whole computation (every
partner-month figured, then paged), on SQLite and PostgreSQL alike.
"""
from __future__ import annotations

import random
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal

from brand_hub.billing import pages
from brand_hub.models import SiteStatus
from brand_hub.models.billing import ReportSource, ReportStatus
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

TODAY = date(2026, 12, 20)
COMMON = dict(today=TODAY, due_day=10, tz="Asia/Shanghai")
MONTHS = pages.recent_months(TODAY, 12)


def _network(session, seed: int = 7) -> list[str]:
    """Partners with sites of every kind (billed or not, opened before, within or after the months shown, undated,
    none) and reports of every kind (versions, corrections, estimates, late, for sites no longer billed, for
    months not shown). Returns the partners' codes."""
    rng = random.Random(seed)
    codes = [f"P{n:03d}" for n in range(22)] + ["p-lower", "P_under", "Z9"]
    for code in codes:
        partner = make_franchisee(session, code=code)
        agreement = make_agreement(session, partner)
        for _ in range(rng.choice((0, 1, 1, 2, 3, 5))):
            opened = rng.choice((None, date(2025, 3, 1), date(2026, 2, 14), date(2026, 6, 30), date(2026, 11, 30),
                                 date(2026, 12, 1), date(2027, 1, 5)))
            status = rng.choice((SiteStatus.active,) * 4 + (SiteStatus.onboarding, SiteStatus.terminated))
            site = make_site(session, partner, agreement if rng.random() < 0.85 else None, opened_on=opened,
                             status=status)
            for period in rng.sample(MONTHS + ["2025-06"], rng.randrange(0, 6)):
                due = pages.report_due(period, 10, "Asia/Shanghai")
                versions = rng.choice((1, 1, 1, 2, 3))
                for version in range(1, versions + 1):
                    source = rng.choice((ReportSource.portal, ReportSource.portal, ReportSource.import_,
                                         ReportSource.estimate))
                    if source == ReportSource.estimate:
                        state = ReportStatus.estimated
                    else:
                        state = ReportStatus.reported if version == 1 else ReportStatus.corrected
                    make_revenue_report(session, site, period, Decimal(rng.randrange(1, 10**7)) / 100,
                                        version=version, status=state, source=source,
                                        submitted_at=due + timedelta(days=rng.randrange(-12, 12)))
    session.commit()
    return codes


def _same(session, flt: pages.ReportFilter, **paging) -> int:
    periods = [flt.period] if flt.period else MONTHS
    paging = {"page": 1, "per_page": 50, "limit": None, **paging}
    new, new_totals = pages.revenue_reports(session=session, flt=flt, **COMMON, **paging)
    old, old_totals = pages._revenue_reports_whole(session=session, flt=flt, periods=periods, due_day=10,
                                                   tz="Asia/Shanghai", **paging)
    assert (new.items, new.total, new.page, new.per_page, new.pages) == (old.items, old.total, old.page,
                                                                         old.per_page, old.pages)
    assert new_totals == old_totals
    return old.total


def test_revenue_reports_paged_first_give_the_rows_totals_and_pages_of_the_whole_computation(session, monkeypatch):
    codes = _network(session)
    total = _same(session, pages.ReportFilter())
    assert total > 60  # the network spans several pages of 7 and every month
    for page in range(1, total // 7 + 3):   # every page, one past the last too
        _same(session, pages.ReportFilter(), page=page, per_page=7)
    _same(session, pages.ReportFilter(), limit=100_000)
    monkeypatch.setattr(pages, "FIGURE_BY_ID", 3)   # an export of more partners than an id list takes
    _same(session, pages.ReportFilter(), limit=100_000)
    _same(session, pages.ReportFilter(), page=2, per_page=7)
    monkeypatch.undo()
    for period in ("2026-11", "2026-06", "2025-12", "2025-06"):
        for page in (1, 2, 3):
            _same(session, pages.ReportFilter(period=period), page=page, per_page=5)
    for code in codes[::3] + ["NOPE"]:
        _same(session, pages.ReportFilter(franchisee=code))
        _same(session, pages.ReportFilter(franchisee=code, period="2026-11"))
        _same(session, pages.ReportFilter(franchisee=code), page=2, per_page=3)


def test_revenue_reports_paged_first_count_a_partner_whose_only_rows_are_reports_of_sites_no_longer_billed(session):
    # a site under no agreement is never expected; a site terminated since is expected up to the last month it
    # reported (from its opening), so its report there is expected and reported
    partner = make_franchisee(session, code="P1")
    closed = make_site(session, partner, make_agreement(session, partner), status=SiteStatus.terminated,
                       opened_on=date(2026, 5, 1))
    make_revenue_report(session, closed, "2026-05", "100.00",
                        submitted_at=datetime(2026, 6, 11, tzinfo=timezone.utc))   # late
    other = make_franchisee(session, code="P2")
    unbilled = make_site(session, other, None)
    make_revenue_report(session, unbilled, "2026-05", "40.00", submitted_at=datetime(2026, 6, 1, tzinfo=timezone.utc))
    session.commit()
    listing, totals = pages.revenue_reports(session=session, flt=pages.ReportFilter(), **COMMON)
    assert [(r.code, r.period, r.expected, r.reported, r.late, r.revenue) for r in listing.items] == [
        ("P1", "2026-05", 1, 1, 1, Decimal("100.00")), ("P2", "2026-05", 0, 1, 0, Decimal("40.00"))]
    assert listing.total == 2 and totals == {"expected": 1, "reported": 2, "corrected": 0, "estimated": 0,
                                             "late": 1, "missing": 0}
    _same(session, pages.ReportFilter())


def _monthly_money_before(session, today: date, months: int = 12, scope=None):
    """The revenue per month as ``monthly_money`` read it before issue 10: the largest version of each (site, month)
    grouped, then joined back (the reference the anti-join must match)."""
    from sqlalchemy import and_, func
    from sqlmodel import select

    from brand_hub.dashboard.pages import _fen, months_back
    from brand_hub.db import is_postgres
    from brand_hub.models import Site
    from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus, RevenueReport

    pg = is_postgres(session)
    periods = months_back(today, months)
    newest = (select(RevenueReport.site_id, RevenueReport.period, func.max(RevenueReport.version).label("version"))
              .where(RevenueReport.period.in_(periods)).group_by(RevenueReport.site_id, RevenueReport.period)
              .subquery())
    stmt = (select(RevenueReport.period, func.sum(_fen(RevenueReport.gross_revenue, pg)), func.sum(Site.desks),
                   func.count())
            .join(newest, and_(newest.c.site_id == RevenueReport.site_id, newest.c.period == RevenueReport.period,
                               newest.c.version == RevenueReport.version))
            .join(Site, Site.id == RevenueReport.site_id).group_by(RevenueReport.period))
    if scope is not None and scope.franchisee_ids is not None:
        stmt = stmt.where(scope.partners(Site.franchisee_id))
    found = {p: (pages._money(total, pg), int(desks or 0), n) for p, total, desks, n in session.execute(stmt)}
    royalty_stmt = (select(InvoiceLine.service_period, func.sum(_fen(InvoiceLine.amount, pg)))
                    .join(Invoice, Invoice.id == InvoiceLine.invoice_id)
                    .where(Invoice.status != InvoiceStatus.draft, InvoiceLine.kind.in_(["royalty", "minimum_topup"]),
                           InvoiceLine.service_period.in_(periods)).group_by(InvoiceLine.service_period))
    if scope is not None and scope.franchisee_ids is not None:
        royalty_stmt = royalty_stmt.where(scope.partners(Invoice.franchisee_id))
    royalty = {p: pages._money(total, pg) for p, total in session.execute(royalty_stmt)}
    return [(p, *found.get(p, (Decimal("0.00"), 0, 0)), royalty.get(p, Decimal("0.00"))) for p in periods]



def test_monthly_money_in_one_statement_takes_each_site_months_newest_version_as_before(session):
    from sqlalchemy import text

    from brand_hub.dashboard import pages as dashboard_pages

    _network(session, seed=11)
    _invoices(session)
    for months in (12, 3, 24):
        got = dashboard_pages.monthly_money(session=session, today=TODAY, months=months)
        assert [(m.period, m.revenue, m.desks, m.reports, m.royalty) for m in got] == _monthly_money_before(
            session, TODAY, months)
    assert any(m.reports for m in got) and any(m.royalty for m in got)
    partner_ids = tuple(fid for (fid,) in session.execute(text("SELECT id FROM franchisee ORDER BY id")))[::4]
    scope = dashboard_pages.Scope(today=TODAY, now=datetime(2026, 12, 20, tzinfo=timezone.utc),
                                  franchisee_ids=partner_ids)
    got = dashboard_pages.monthly_money(session=session, today=TODAY, scope=scope)
    assert [(m.period, m.revenue, m.desks, m.reports, m.royalty) for m in got] == _monthly_money_before(
        session, TODAY, scope=scope)


def _invoices(session, seed: int = 5) -> None:
    """Two months of invoices of every status, with estimated lines, credit notes and payments."""
    from brand_hub.models.billing import CreditNote, Invoice, InvoiceLine, InvoiceStatus, Payment

    rng = random.Random(seed)
    statuses = (InvoiceStatus.draft, InvoiceStatus.issued, InvoiceStatus.issued, InvoiceStatus.partially_paid,
                InvoiceStatus.paid, InvoiceStatus.credited)
    for n in range(9):
        partner = make_franchisee(session, code=f"Q{n:02d}")
        for m, period in enumerate(("2026-10", "2026-11")):
            agreement = make_agreement(session, partner, number=f"AG-{period}-{8 - n}")
            total = Decimal(rng.randrange(100, 10**6)) / 100
            invoice = Invoice(agreement_id=agreement.id, franchisee_id=partner.id, period=period,
                              number=f"BH-{period}-{n}", status=InvoiceStatus.draft, plan_id="standard-2026",
                              due_date=date(2026, 11 + m, 1 + n), subtotal=total, total=total,
                              amount_paid=(total / 3).quantize(Decimal("0.01")) if n % 3 else Decimal("0"))
            session.add(invoice)
            session.flush()
            for k in range(rng.randrange(0, 4)):
                session.add(InvoiceLine(invoice_id=invoice.id, position=k, kind="royalty", description="royalty",
                                        service_period=period, amount=Decimal("1.00") * (k + 1), estimated=k % 2 == 0,
                                        plan_id="standard-2026", site_code=f"S{rng.randrange(5)}"))
            session.flush()
            invoice.status = rng.choice(statuses)   # lines are written while a draft (issued invoices are immutable)
            session.add(invoice)
            session.flush()
            if n % 2:
                session.add(CreditNote(number=f"CN-{period}-{n}", invoice_id=invoice.id, amount=Decimal("2.00"),
                                       reason="goodwill"))
                session.add(Payment(invoice_id=invoice.id, amount=Decimal("3.00"), paid_on=date(2026, 12, n % 3 + 1)))
    session.commit()


def test_the_invoice_list_and_a_periods_side_lists_page_and_total_in_one_statement_as_in_two(session):
    """Issue 10: the page's rows carry the count and totals (window sums before LIMIT); a page past the end still
    shows the totals of the whole filtered set."""
    from sqlalchemy import case, func
    from sqlmodel import select

    from brand_hub.db import is_postgres
    from brand_hub.models import Agreement, Franchisee
    from brand_hub.models.billing import CreditNote, Invoice, InvoiceLine, InvoiceStatus, Payment
    from brand_hub.paging import paginate

    _invoices(session)
    pg = is_postgres(session)
    today = date(2026, 11, 20)
    for flt in (pages.InvoiceFilter(), pages.InvoiceFilter(period="2026-11"), pages.InvoiceFilter(status="open"),
                pages.InvoiceFilter(status="overdue"), pages.InvoiceFilter(status="draft"),
                pages.InvoiceFilter(franchisee="Q03"), pages.InvoiceFilter(number="NOPE")):
        count, total, paid, credited, balance = session.execute(pages._invoice_select(flt, today, pg, [
            func.count(), func.sum(pages._fen(Invoice.total, pg)), func.sum(pages._fen(Invoice.amount_paid, pg)),
            func.sum(pages._fen(Invoice.amount_credited, pg)), func.sum(pages._balance(pg))])).one()
        for page in (1, 2, 3, 9):
            listing = pages.invoice_list(session=session, flt=flt, today=today, page=page, per_page=4)
            rows = session.execute(pages._invoice_select(flt, today, pg, [Invoice, Franchisee, Agreement])
                                   .order_by(Invoice.period.desc(), Agreement.number)
                                   .offset((page - 1) * 4).limit(4)).all()
            assert listing.items == [tuple(r) for r in rows] and listing.total == count
            assert listing.sums == {"total": pages._money(total, pg), "paid": pages._money(paid, pg),
                                    "credited": pages._money(credited, pg), "balance": pages._money(balance, pg)}
    lines = (select(InvoiceLine, Invoice).join(Invoice, Invoice.id == InvoiceLine.invoice_id)
             .where(Invoice.period == "2026-11", InvoiceLine.estimated.is_(True))
             .order_by(InvoiceLine.site_code, InvoiceLine.position))
    for page in (1, 2, 3, 4, 30):
        one, two = pages._paged(session, lines, page=page, per_page=2), paginate(session, lines, page=page, per_page=2)
        assert (one.items, one.total, one.page, one.pages) == (two.items, two.total, two.page, two.pages)
    for period in ("2026-11", "2026-10", "2026-09"):
        of_period = select(Invoice.id).where(Invoice.period == period)
        side_lists = {
            "credit_notes_page": select(CreditNote, Invoice).join(Invoice, Invoice.id == CreditNote.invoice_id)
            .where(CreditNote.invoice_id.in_(of_period)).order_by(CreditNote.id),
            "payments_page": select(Payment, Invoice).join(Invoice, Invoice.id == Payment.invoice_id)
            .where(Payment.invoice_id.in_(of_period)).order_by(Payment.paid_on, Payment.id)}
        for side in (1, 2, 5):
            run = pages.run_page(session=session, period=period, today=today, page=side, per_page=3,
                                 estimated_page=side, left_page=side, credits_page=side, payments_page=side,
                                 side_per_page=2)
            for name, stmt in side_lists.items():
                got, before = getattr(run, name), paginate(session, stmt, page=side, per_page=2)
                assert (got.items, got.total, got.pages) == (before.items, before.total, before.pages)
            for mine, month in ((run.totals, period), (run.previous, pages.shift_period(period, -1))):
                count, total, drafts = session.execute(
                    select(func.count(), func.sum(pages._fen(Invoice.total, pg)),
                           func.sum(case((Invoice.status == InvoiceStatus.draft, 1), else_=0)))
                    .where(Invoice.period == month)).one()
                assert (mine.invoices, mine.total, mine.drafts) == (count, pages._money(total, pg), int(drafts or 0))


def test_the_checks_banner_counts_in_one_statement_what_the_checks_page_lists(session):
    """Issue 10: the banner's three counts (on every billing page) are one statement; the implausible ones are
    the rows of the list the checks page shows."""
    from sqlalchemy import event
    from sqlmodel import select

    from brand_hub.billing import reads
    from brand_hub.models.billing import RevenueReport
    from brand_hub.models.trust import RevenueAssessment

    _network(session, seed=3)
    reports = session.execute(select(RevenueReport).order_by(RevenueReport.id)).scalars().all()
    for n, report in enumerate(reports[:12]):
        session.add(RevenueAssessment(report_id=report.id, site_id=report.site_id, period=report.period,
                                      verdict="implausible" if n % 3 else "plausible", reasons=[], signals={},
                                      method_version=1))
    session.commit()
    statements = []
    listener = lambda *args, **kwargs: statements.append(args[2])  # noqa: E731
    event.listen(session.get_bind(), "before_cursor_execute", listener)
    try:
        counts = reads.checks_counts(session=session)
    finally:
        event.remove(session.get_bind(), "before_cursor_execute", listener)
    assert len(statements) == 1
    listed = reads.implausible_in_force(session=session, period=None, limit=None)
    assert counts["implausible"] == len(listed) > 0
    assert (counts["corrections"], counts["disputes"]) == (0, 0)


def test_revenue_reports_paged_first_agree_with_the_whole_computation_after_sites_moved(session):
    # moves dated back into the months shown: each month's reports and expected sites belong to the partner that
    # held the site then (stored on the reports, asked of the tenures for the expected), by either computation
    from sqlmodel import select

    from brand_hub.models import Agreement, Site
    from tests.builders import move_site_by_import

    codes = _network(session, seed=11)
    rng = random.Random(3)
    sites = [s for s in session.exec(select(Site).order_by(Site.id)).all() if s.agreement_id is not None]
    partners = {a.franchisee_id: a for a in session.exec(select(Agreement)).all()}
    for site in rng.sample(sites, min(8, len(sites))):
        target = rng.choice([a for fid, a in partners.items() if fid != site.franchisee_id])
        from brand_hub.models import Franchisee

        move_site_by_import(session, site, session.get(Franchisee, target.franchisee_id), target,
                            date(2026, rng.randrange(1, 12), rng.randrange(2, 28)))
    session.commit()
    total = _same(session, pages.ReportFilter())
    for page in range(1, total // 9 + 2):
        _same(session, pages.ReportFilter(), page=page, per_page=9)
    for code in codes[::4]:
        _same(session, pages.ReportFilter(franchisee=code))
