"""Stored billing previews (issue 10: speed): the review and the diff pages show exactly what a direct
computation gives, to the fen, whether computed or stored, and a changed input shows on the next request
(SQLite and PostgreSQL: the database's triggers mark every change to an input table).

The network is the review's (``test_billing_review``): partner A with September issued and unpaid and two
corrected reports, partner B reporting October, partner C with an onboarding site only.
"""
from __future__ import annotations

import pytest

from dataclasses import astuple
from datetime import date, datetime, timezone
from decimal import Decimal as D

from sqlalchemy import text
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import diff, invoices, preview, runs
from brand_hub.db import is_postgres
from brand_hub.models import Site
from brand_hub.models.billing import Invoice, Payment, ReportStatus
from brand_hub.models.previews import BillingPreview
from tests.builders import make_revenue_report
from tests.integration.test_billing_review import PLANS, TODAY, network  # noqa: F401  (the fixture)

NOW = datetime(2026, 11, 5, 3, tzinfo=timezone.utc)
EVERYTHING = 10_000  # one page holds every row


def _exact(values) -> list[str]:
    """Every figure as its exact text (Decimal equality alone would take 1.0 for 1.00)."""
    return [repr(v) for v in values]


def _same_review(page: preview.ReviewPage, direct: runs.Review) -> None:
    assert [_exact(astuple(i)) for i in page.detail] == [_exact(astuple(i)) for i in direct.detail]
    assert [_exact(astuple(p)) for p in page.partners] == [_exact(astuple(p)) for p in direct.partners]
    assert [_exact(astuple(x)) for x in page.labelled] == [_exact(astuple(x)) for x in direct.labelled]
    assert page.left_out == direct.left_out
    assert [_exact(astuple(c)) for c in page.controls] == [_exact(astuple(c)) for c in direct.controls]
    assert _exact((page.period, page.previous_period, page.invoices, page.skipped_issued, page.estimated_sites,
                   page.subtotal, page.vat, page.total, page.period_total, page.previous_total)) == _exact((
        direct.period, direct.previous_period, direct.invoices, direct.skipped_issued, direct.estimated_sites,
        direct.subtotal, direct.vat, direct.total, direct.period_total, direct.previous_total))


def _page(session, **pages) -> preview.ReviewPage:
    found = preview.review_page(session=session, period="2026-10", plans=PLANS, today=TODAY,
                                now=pages.pop("now", NOW), per_page=pages.pop("per_page", EVERYTHING), **pages)
    session.commit()  # what the view does: keeps the preview just computed
    return found


def test_the_review_page_shows_the_direct_computation_to_the_fen_computed_and_stored(session, network):
    direct = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    assert direct.labelled and direct.left_out and direct.partners  # every list of the page has rows
    first = _page(session)
    _same_review(first, direct)
    second = _page(session)
    _same_review(second, direct)
    stored = session.exec(select(BillingPreview)).all()
    assert sorted(row.key for row in stored) == ["review:2026-10", "review:2026-10#detail:0",
                                                 "review:2026-10#labelled:0", "review:2026-10#left_out:0",
                                                 "review:2026-10#partners:0"]  # the summary, each list's chunks
    later = _page(session, now=datetime(2026, 11, 5, 4, tzinfo=timezone.utc))
    assert later.computed_at == NOW  # the later request read what the first kept
    _same_review(later, direct)
    assert session.exec(select(Invoice).where(Invoice.period == "2026-10")).all() == []  # a review writes nothing


def test_a_corrected_report_shows_on_the_next_request(session, network):
    before = _page(session)
    site = session.exec(select(Site).order_by(Site.id)).first()
    make_revenue_report(session, site, "2026-10", "450000", version=3, status=ReportStatus.corrected)
    session.commit()
    after = _page(session)
    direct = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    _same_review(after, direct)
    a_before, a_after = (next(i for i in p.detail if i.agreement == "AG-A") for p in (before, after))
    assert a_before.revenue["corrected"] == D("400000.00") and a_after.revenue["corrected"] == D("450000.00")
    assert after.total != before.total


def test_an_updated_row_a_deleted_row_and_another_day_each_change_the_fingerprint(session, network):
    stamp = preview.fingerprint(session=session, plans=PLANS, today=TODAY)
    assert preview.fingerprint(session=session, plans=PLANS, today=TODAY) == stamp  # nothing changed
    site = session.exec(select(Site).order_by(Site.id)).first()
    site.desks += 1                                  # an UPDATE in place (the tech fee's base)
    session.commit()
    updated = preview.fingerprint(session=session, plans=PLANS, today=TODAY)
    assert updated != stamp
    invoices.mark_paid(session=session, number=network.number, paid_on=date(2026, 11, 2), amount=D("100.00"),
                       actor=SYSTEM, today=TODAY)   # a payment booked (late fees change)
    session.commit()
    paid = preview.fingerprint(session=session, plans=PLANS, today=TODAY)
    assert paid != updated
    assert preview.fingerprint(session=session, plans=PLANS, today=date(2026, 11, 6)) != paid  # late days
    assert preview.fingerprint(session=session, plans={}, today=TODAY) != paid  # the plans are inputs too
    session.delete(session.exec(select(Payment)).one())  # a DELETE (by hand, say)
    session.commit()
    deleted = preview.fingerprint(session=session, plans=PLANS, today=TODAY)
    assert deleted not in (paid, updated, stamp)
    assert preview.fold_changes(session=session, above=0)
    session.commit()
    assert preview.fingerprint(session=session, plans=PLANS, today=TODAY) not in (deleted, paid, updated, stamp)


def test_every_input_table_marks_its_changes(session, network):
    if is_postgres(session):
        found = session.execute(text("SELECT c.relname FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid "
                                     "WHERE t.tgname LIKE '%billing_change' "
                                     "AND c.relnamespace = current_schema()::regnamespace")).scalars().all()
    else:
        found = session.execute(text("SELECT tbl_name FROM sqlite_master WHERE type = 'trigger' "
                                     "AND name LIKE '%billing_change_%'")).scalars().all()
    assert set(found) == {model.__tablename__ for model in preview.INPUTS}
    assert len(found) == len(preview.INPUTS) * (1 if is_postgres(session) else 3)  # insert, update, delete


def test_a_review_page_pages_its_lists_and_keeps_the_whole_period_s_totals(session, network):
    direct = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    second = _page(session, per_page=1, page=2, partners_page=2)
    assert [i.agreement for i in second.detail] == [direct.detail[1].agreement]
    assert second.detail_page.total == len(direct.detail) and second.detail_page.has_prev
    assert [p.franchisee for p in second.partners] == [direct.partners[1].franchisee]
    assert (second.period_total, second.previous_total, second.balanced) == (
        direct.period_total, direct.previous_total, direct.balanced)


def test_the_diff_page_shows_the_direct_diff_and_follows_a_new_run(session, network):
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=PLANS, today=TODAY))
    session.commit()

    def page(against: str) -> preview.DiffPage:
        found = preview.diff_page(session=session, period="2026-10", against=against, plans=PLANS, today=TODAY,
                                  now=NOW, per_page=EVERYTHING)
        session.commit()
        return found

    def same(found: preview.DiffPage, direct: diff.Diff) -> None:
        assert [_exact(astuple(r)) for r in found.result.rows] == [_exact(astuple(r)) for r in direct.rows]
        assert _exact((found.result.total_before, found.result.total_after)) == _exact(
            (direct.total_before, direct.total_after))
        assert found.rows_page.total == len(direct.rows)

    months = diff.months(session=session, period="2026-10", against="2026-09")
    assert months.rows
    same(page("2026-09"), months)
    same(page("2026-09"), months)  # stored on PostgreSQL, the same figures
    unchanged = diff.rerun(session=session, period="2026-10", drafts=runs.compute(
        session=session, period="2026-10", plans=PLANS, today=TODAY, problems=[]))
    same(page("last-run"), unchanged)
    site = session.exec(select(Site).order_by(Site.id)).first()
    make_revenue_report(session, site, "2026-10", "480000", version=3, status=ReportStatus.corrected)
    session.commit()
    rerun = diff.rerun(session=session, period="2026-10", drafts=runs.compute(
        session=session, period="2026-10", plans=PLANS, today=TODAY, problems=[]))
    assert rerun.rows != unchanged.rows
    same(page("last-run"), rerun)  # the correction shows on the next request


def test_the_job_keeps_the_default_previews_the_pages_then_read(session, network):
    done = preview.refresh(session=session, plans=PLANS, today=TODAY, local_today=TODAY, now=NOW, due_day=10,
                           tz="Asia/Shanghai")
    session.commit()
    assert done == ["review:2026-10", "diff:2026-09", "network-money", "revenue-reports"]
    assert sorted(row.key for row in session.exec(select(BillingPreview)) if "#" not in row.key) == [
        "diff:2026-09:2026-08", "network-money:12", "revenue-reports:2025-11:2026-10:12:10:Asia/Shanghai:",
        "review:2026-10"]
    later = datetime(2026, 11, 5, 4, tzinfo=timezone.utc)
    found = preview.review_page(session=session, period="2026-10", plans=PLANS, today=TODAY, now=later)
    assert found.computed_at == NOW  # read, not computed again
    from brand_hub.billing import pages

    def refuse(*args, **kwargs):
        raise AssertionError("computed again")

    with pytest.MonkeyPatch.context() as patched:   # what the job kept is what finance's pages then read
        patched.setattr(pages, "_month_figures", refuse)
        patched.setattr("brand_hub.dashboard.pages.monthly_money", refuse)
        pages.network_money(session=session, today=TODAY)
        pages.revenue_reports(session=session, flt=pages.ReportFilter(), today=TODAY, due_day=10,
                              tz="Asia/Shanghai")


def test_a_stored_page_is_read_from_the_chunks_it_spans(session, network, monkeypatch):
    monkeypatch.setattr(preview, "CHUNK", 2)
    direct = runs.review_table(session=session, period="2026-10", plans=PLANS, today=TODAY)
    _page(session)  # computed and kept in chunks of two
    session.commit()
    for per_page, page in ((1, 1), (1, 2), (3, 1), (2, 2), (5, 1), (1, 9)):
        stored = _page(session, per_page=per_page, page=page, partners_page=page, now=datetime(2026, 11, 6))
        assert stored.computed_at == NOW  # read, not computed
        start = (page - 1) * per_page
        assert [_exact(astuple(i)) for i in stored.detail] == [
            _exact(astuple(i)) for i in direct.detail[start:start + per_page]]
        assert [_exact(astuple(p)) for p in stored.partners] == [
            _exact(astuple(p)) for p in direct.partners[start:start + per_page]]
        assert (stored.detail_page.total, stored.partners_page.total) == (len(direct.detail), len(direct.partners))
        assert _exact((stored.period_total, stored.previous_total)) == _exact((direct.period_total,
                                                                               direct.previous_total))
