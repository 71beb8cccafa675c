"""What the series and the database guarantee: no empty numbered invoice, stored PDFs that cannot change."""
from __future__ import annotations

from datetime import date, datetime, timezone

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DatabaseError
from sqlmodel import select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, pdf, plans, runs
from brand_hub.db import is_postgres
from brand_hub.models import SiteStatus
from brand_hub.models.billing import Invoice, InvoiceDocument
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

TODAY = date(2026, 11, 5)
NOW = datetime(2026, 11, 5, 2, 0, tzinfo=timezone.utc)
PLANS = plans()


def billed_partner(session, revenue: str = "100000"):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, desks=10)
    make_revenue_report(session, site, "2026-10", revenue)
    return agreement, site


def onboarding_partner(session):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    site = make_site(session, partner, agreement, status=SiteStatus.onboarding)
    return agreement, site


def run(session, left_out=None, period="2026-10"):
    drafts = runs.compute(session=session, period=period, plans=PLANS, today=TODAY, left_out=left_out)
    result = runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM, left_out=left_out)
    session.commit()
    return result


def test_an_agreement_whose_only_site_is_onboarding_gets_no_invoice_and_is_said_left_out(session):
    first, _ = billed_partner(session)
    empty, _ = onboarding_partner(session)
    last, _ = billed_partner(session)
    left_out: list[runs.LeftOut] = []
    result = run(session, left_out)
    assert [(o.agreement, o.reason) for o in left_out] == [
        (empty.number, "no billable site in 2026-10 (sites: 1 onboarding); no invoice, no number")]
    assert (result.drafts, result.left_out) == (2, 1)
    assert empty.id not in {i.agreement_id for i in session.exec(select(Invoice)).all()}
    issued = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
    session.commit()
    assert [(i.agreement_id, i.number) for i in issued] == [(first.id, "BH-2026-000001"),
                                                            (last.id, "BH-2026-000002")]
    exported = invoices.export_period(session=session, period="2026-10")
    assert [r["number"] for r in exported] == ["BH-2026-000001", "BH-2026-000002"]
    assert all(r["lines"] for r in exported)


def test_a_draft_whose_sites_went_back_to_onboarding_is_deleted_by_the_next_run_never_numbered(session):
    billed_partner(session)
    agreement, site = billed_partner(session)
    run(session)
    assert len(session.exec(select(Invoice)).all()) == 2
    site.status = SiteStatus.onboarding
    session.add(site)
    session.commit()
    run(session)
    assert agreement.id not in {i.agreement_id for i in session.exec(select(Invoice)).all()}
    issued = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
    assert [i.number for i in issued] == ["BH-2026-000001"]


def test_an_empty_draft_left_by_an_older_run_is_never_numbered(session):
    billed_partner(session)
    run(session)
    agreement, _ = onboarding_partner(session)
    session.add(Invoice(agreement_id=agreement.id, franchisee_id=agreement.franchisee_id, period="2026-10",
                        plan_id="standard-2026"))  # what runs wrote before: a 0.00 draft without lines
    session.commit()
    issued = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
    session.commit()
    assert [i.number for i in issued] == ["BH-2026-000001"]
    empty = session.exec(select(Invoice).where(Invoice.agreement_id == agreement.id)).one()
    assert (empty.number, empty.status.value) == (None, "draft")
    run(session)  # the next run deletes it
    assert session.exec(select(Invoice).where(Invoice.agreement_id == agreement.id)).first() is None


def issued_with_pdf(session) -> Invoice:
    billed_partner(session)
    run(session)
    [issued] = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
    session.commit()
    pdf.render_missing(session=session, brand_name="方寸空间", workers=1)
    session.commit()
    return issued


def test_the_database_refuses_to_change_or_delete_a_stored_invoice_pdf(engine, session):
    issued = issued_with_pdf(session)
    for statement in (f"UPDATE invoice_document SET pdf = pdf WHERE invoice_id = {issued.id}",
                      f"UPDATE invoice_document SET sha256 = 'x' WHERE invoice_id = {issued.id}",
                      f"DELETE FROM invoice_document WHERE invoice_id = {issued.id}",
                      "DELETE FROM invoice_document"):
        with pytest.raises(DatabaseError, match="PDF is immutable"):
            with engine.begin() as conn:
                conn.execute(text(statement))
    assert session.get(InvoiceDocument, issued.id) is not None


@pytest.mark.parametrize("table", ["invoice_line", "invoice", "invoice_document"])
def test_postgres_refuses_to_truncate_the_billing_tables(engine, session, table):
    if not is_postgres(engine):
        pytest.skip("SQLite has no TRUNCATE (its DELETE is guarded row by row)")
    issued_with_pdf(session)
    with pytest.raises(DatabaseError, match="TRUNCATE of billing tables is refused"):
        with engine.begin() as conn:
            conn.execute(text(f"TRUNCATE {table} CASCADE"))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar() >= 1


@pytest.mark.postgres
def test_two_issuers_overlapping_in_the_pdf_step_on_postgres_leave_exactly_one_pdf_per_invoice(
        private_pg_url, monkeypatch):
    import threading

    from sqlmodel import Session

    from brand_hub.db import make_engine

    engine = make_engine(private_pg_url)
    with Session(engine, expire_on_commit=False) as session:
        for _ in range(6):
            billed_partner(session)
        run(session)
        invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, now=NOW, due_days=15)
        session.commit()
    barrier = threading.Barrier(2)
    real_render_many = pdf.render_many

    def render_many_together(htmls, workers=0):  # both issuers have chosen their invoices: now render
        barrier.wait(timeout=20)
        return real_render_many(htmls, 1)

    monkeypatch.setattr(pdf, "render_many", render_many_together)
    rendered: dict[str, int] = {}
    errors: list[BaseException] = []

    def issuer(name: str) -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                rendered[name] = len(pdf.render_missing(session=session, brand_name="方寸空间", workers=1))
                session.commit()
        except BaseException as exc:  # a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=issuer, args=(name,)) for name in ("first", "second")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert sum(rendered.values()) == 6
    with Session(engine) as session:
        issued = session.exec(select(Invoice).where(Invoice.number.is_not(None))).all()
        documents = {d.invoice_id: d.sha256 for d in session.exec(select(InvoiceDocument)).all()}
    engine.dispose()
    assert len(issued) == 6 and len(documents) == 6
    assert all(documents[i.id] == i.pdf_sha256 for i in issued)
