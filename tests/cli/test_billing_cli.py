"""``brandhub revenue import`` and ``brandhub billing …`` as finance runs them, in-process and as real processes."""
from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone
from decimal import Decimal as D
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlmodel import Session, select

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, plans, runs
from brand_hub.db import make_engine
from brand_hub.models import AuditEvent, SiteStatus
from brand_hub.models.billing import BillingRun, Invoice, InvoiceLine, RevenueReport
from cli.main import cli
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

BRANDHUB = str(Path(sys.executable).with_name("brandhub"))


def network(session, agreements: int, periods=("2026-10",), revenue: str = "300000") -> None:
    """``agreements`` partners, each with one agreement and two sites reporting ``revenue``."""
    for _ in range(agreements):
        partner = make_franchisee(session)
        agreement = make_agreement(session, partner)
        for _ in range(2):
            site = make_site(session, partner, agreement)
            for period in periods:
                make_revenue_report(session, site, period, revenue)
    session.commit()


def snapshot(session) -> list[tuple]:
    session.expire_all()
    return sorted((i.agreement_id, line.site_code, line.kind, line.band, line.amount, i.total)
                  for line, i in session.exec(select(InvoiceLine, Invoice)
                                              .join(Invoice, Invoice.id == InvoiceLine.invoice_id)).all())


def test_a_revenue_import_reports_every_bad_row_by_line_and_keeps_the_good_ones(run, db, tmp_path):
    partner = make_franchisee(db)
    site = make_site(db, partner, make_agreement(db, partner), code="SH-01")
    db.commit()
    path = tmp_path / "revenue.csv"
    path.write_text("site_code,period,gross_revenue,desks\n"
                    "SH-01,2026-09,500000.50,300000\n"
                    "SH-01,2026-10,-1,\n"
                    "XX-99,2026-10,5,\n"
                    "SH-01,2026-13,5,\n"
                    "SH-01,2026-09,1,\n"
                    "SH-01,2026-08,12x,\n"
                    "SH-01,2026-07,480000,\n", encoding="utf-8")
    result = run("revenue", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:3: gross_revenue '-1' is negative" in result.output
    assert f"{path}:4: unknown site 'XX-99'" in result.output
    assert f"{path}:5: period '2026-13' is not a month like 2026-10" in result.output
    assert f"{path}:6: duplicate row for SH-01 2026-09 (first on line 2)" in result.output
    assert f"{path}:7: gross_revenue '12x' is not a decimal number" in result.output
    assert "2 stored, 0 unchanged, 5 refused" in result.output
    stored = {(r.period, r.gross_revenue, r.breakdown.get("desks")) for r in db.exec(select(RevenueReport)).all()}
    assert stored == {("2026-09", D("500000.50"), "300000"), ("2026-07", D("480000"), None)}
    [event] = db.exec(select(AuditEvent).where(AuditEvent.action == "revenue.import")).all()
    assert event.after == {"file": str(path), "written": 2, "unchanged": 0, "refused": 5}
    assert event.entity_id == path.name
    again = run("revenue", "import", str(path))  # re-importing the same file changes nothing
    assert "0 stored, 2 unchanged, 5 refused" in again.output
    assert len(db.exec(select(RevenueReport).where(RevenueReport.site_id == site.id)).all()) == 2


def test_the_dry_run_prints_the_review_table_with_control_totals_and_writes_nothing(run, db):
    network(db, 2)
    result = run("billing", "run", "--period", "2026-10", "--dry-run")
    assert result.exit_code == 0, result.output
    # per site: 24,000 + top-up 6,000 + fund 6,000 + 120 desks × 15 = 37,800; 4 sites = 151,200; VAT 9,072
    assert "control totals: subtotal 151,200.00 · VAT 9,072.00 · total 160,272.00 CNY" in result.output
    assert result.output.count("37,800.00") == 4
    db.expire_all()
    assert db.exec(select(Invoice)).all() == [] and db.exec(select(BillingRun)).all() == []


def test_an_agreement_naming_an_unknown_plan_is_left_out_and_said_while_the_others_are_billed(run, db):
    network(db, 2)
    partner = make_franchisee(db)
    stray = make_agreement(db, partner, royalty_plan_id="premium-2027")
    make_revenue_report(db, make_site(db, partner, stray), "2026-10", "300000")
    db.commit()
    result = run("billing", "run", "--period", "2026-10")
    assert result.exit_code == 1
    assert "run 1 for 2026-10: 2 draft(s), total 160272.00 CNY" in result.output
    assert f"agreement {stray.number}: royalty plan 'premium-2027' does not exist; not billed for 2026-10" \
        in result.output
    db.expire_all()
    assert stray.id not in {i.agreement_id for i in db.exec(select(Invoice)).all()}
    assert len(db.exec(select(Invoice)).all()) == 2
    dry = run("billing", "run", "--period", "2026-10", "--dry-run")
    assert dry.exit_code == 1 and "premium-2027" in dry.output and "control totals" in dry.output


def test_run_issue_export_pay_and_credit_from_the_command_line(run, db, tmp_path):
    network(db, 2)
    assert run("billing", "run", "--period", "2026-10").exit_code == 0
    issued = run("billing", "issue", "--period", "2026-10")
    assert issued.exit_code == 0, issued.output
    assert "issued BH-2026-000001" in issued.output and "2 PDF(s) rendered" in issued.output
    out = tmp_path / "export.json"
    assert run("billing", "export", "--period", "2026-10", "--format", "json", "--output", str(out)).exit_code == 0
    records = json.loads(out.read_text(encoding="utf-8"))
    assert [r["number"] for r in records] == ["BH-2026-000001", "BH-2026-000002"]
    assert {"number", "agreement", "franchisee", "period", "status", "lines", "subtotal", "vat", "total",
            "currency"} <= set(records[0])
    assert set(records[0]["lines"][0]) >= {"site", "kind", "description", "base", "rate", "amount", "estimated"}
    assert records[0]["total"] == "80136.00"
    csv_text = run("billing", "export", "--period", "2026-10", "--format", "csv").output
    assert csv_text.splitlines()[0].startswith("number,agreement,franchisee,period,status,site,kind")
    paid = run("billing", "mark-paid", "BH-2026-000001", "--amount", "80000", "--date",
               datetime.now(timezone.utc).date().isoformat())  # issued today: paid the same day
    assert "balance 136.00 (partially_paid)" in paid.output
    too_much = run("billing", "credit-note", "BH-2026-000001", "--amount", "136.01", "--reason", "goodwill")
    assert too_much.exit_code == 1
    assert "credit 136.01 is more than the 136.00 that remains on BH-2026-000001" in too_much.output
    note = run("billing", "credit-note", "BH-2026-000001", "--amount", "136", "--reason", "goodwill")
    assert note.output.startswith("CN-2026-000001: 136 CNY credited")
    unknown = run("billing", "mark-paid", "BH-2026-999999", "--amount", "1", "--date", "2026-11-20")
    assert unknown.exit_code == 1 and "no issued invoice numbered 'BH-2026-999999'" in unknown.output


@pytest.mark.slow  # real processes: each `brandhub` start-up imports every area
def test_a_run_killed_half_way_then_run_again_ends_like_an_uninterrupted_run(env, db, database_url):
    network(db, 60)
    runs.write_drafts(session=db, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=db, period="2026-10", plans=plans(), today=datetime(2026, 11, 1).date()))
    db.commit()
    expected = snapshot(db)
    with subprocess.Popen([BRANDHUB, "billing", "run", "--period", "2026-10"], env=os.environ | env,
                          stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as process:
        assert process.stdout.readline().startswith("drafted ")  # half way through writing the drafts
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL
    db.expire_all()
    assert len(db.exec(select(BillingRun)).all()) == 1  # the killed run left nothing behind
    again = subprocess.run([BRANDHUB, "billing", "run", "--period", "2026-10"], env=os.environ | env,
                           capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr
    after = snapshot(db)
    assert len(after) == len(expected) and [row[1:] for row in after] == [row[1:] for row in expected]
    assert len(db.exec(select(Invoice)).all()) == 60


@pytest.mark.postgres
@pytest.mark.slow  # real processes: each `brandhub` start-up imports every area
def test_two_issue_commands_racing_on_postgres_number_without_gap_or_duplicate(tmp_path, private_pg_url):
    url = private_pg_url
    env = {"BRANDHUB_DATABASE_URL": url, "BRANDHUB_INSTANCE_PATH": str(tmp_path / "instance")}
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        network(session, 25, periods=("2026-09", "2026-10"))
        for period in ("2026-09", "2026-10"):
            drafts = runs.compute(session=session, period=period, plans=plans(),
                                  today=datetime(2026, 11, 1).date())
            runs.write_drafts(session=session, period=period, drafts=drafts, actor=SYSTEM)
        session.commit()
    processes = [subprocess.Popen([BRANDHUB, "billing", "issue", "--period", period, "--no-pdf"],
                                  env=os.environ | env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for period in ("2026-09", "2026-10")]
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    with Session(engine) as session:
        numbers = sorted(session.exec(select(Invoice.number)).all())
    engine.dispose()
    assert numbers == [f"BH-2026-{n:06d}" for n in range(1, 51)]


@pytest.mark.postgres
def test_two_issues_forced_to_overlap_on_postgres_take_turns_on_the_counter(private_pg_url):
    url = private_pg_url
    engine = make_engine(url)
    with Session(engine, expire_on_commit=False) as session:
        network(session, 10, periods=("2026-09", "2026-10"))
        for period in ("2026-09", "2026-10"):
            runs.write_drafts(session=session, period=period, actor=SYSTEM, drafts=runs.compute(
                session=session, period=period, plans=plans(), today=datetime(2026, 11, 1).date()))
        session.commit()
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def issue(period: str) -> None:
        try:
            with Session(engine, expire_on_commit=False) as session:
                barrier.wait(timeout=10)
                invoices.issue_period(session=session, period=period, actor=SYSTEM, due_days=15,
                                      now=datetime(2026, 11, 2, tzinfo=timezone.utc))
                session.commit()
        except BaseException as exc:  # reported below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=issue, args=(p,)) for p in ("2026-09", "2026-10")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    with Session(engine) as session:
        rows = session.exec(select(Invoice.period, Invoice.number).order_by(Invoice.number)).all()
    engine.dispose()
    assert [n for _, n in rows] == [f"BH-2026-{n:06d}" for n in range(1, 21)]
    # each command's invoices got one unbroken block: the counter was held until its commit
    periods = [p for p, _ in rows]
    assert periods == sorted(periods, key=lambda p: periods.index(p))


def test_an_excel_cell_in_scientific_notation_is_refused_with_its_line_not_read_as_money(run, db, tmp_path):
    partner = make_franchisee(db)
    make_site(db, partner, make_agreement(db, partner), code="SH-02")
    db.commit()
    path = tmp_path / "revenue.csv"
    path.write_text("site_code,period,gross_revenue\n"
                    "SH-02,2026-09,1.23457E+06\n"
                    "SH-02,2026-08,NaN\n"
                    "SH-02,2026-07,1000000000000\n"
                    "SH-02,2026-06,1234567.89\n", encoding="utf-8")
    result = run("revenue", "import", str(path))
    assert result.exit_code == 1
    assert f"{path}:2: gross_revenue '1.23457E+06' is in scientific notation" in result.output
    assert f"{path}:3: gross_revenue 'NaN' is not a finite amount" in result.output
    assert f"{path}:4: gross_revenue '1000000000000' is not below 1,000,000,000,000" in result.output
    assert "1 stored, 0 unchanged, 3 refused" in result.output
    assert [r.gross_revenue for r in db.exec(select(RevenueReport)).all()] == [D("1234567.89")]
    refused = run("billing", "mark-paid", "BH-2026-000001", "--amount", "1E+3", "--date", "2026-11-20")
    assert refused.exit_code == 1 and "amount '1E+3' is in scientific notation" in refused.output


def test_mark_paid_refuses_a_date_in_the_future_or_before_the_invoice_was_issued(run, db):
    network(db, 1)
    assert run("billing", "run", "--period", "2026-10").exit_code == 0
    assert run("billing", "issue", "--period", "2026-10", "--no-pdf").exit_code == 0
    db.expire_all()
    issued = db.exec(select(Invoice)).one()
    issued_on = issued.issued_at.date()
    tomorrow = datetime.now(timezone.utc).date() + timedelta(days=2)
    future = run("billing", "mark-paid", issued.number, "--amount", "1", "--date", tomorrow.isoformat())
    assert future.exit_code == 1 and f"payment date {tomorrow.isoformat()} is in the future" in future.output
    before = issued_on - timedelta(days=1)
    early = run("billing", "mark-paid", issued.number, "--amount", "1", "--date", before.isoformat())
    assert early.exit_code == 1
    assert f"payment date {before.isoformat()} is before {issued.number} was issued on {issued_on}" in early.output
    db.expire_all()
    assert db.get(Invoice, issued.id).amount_paid == D("0.00")
    ok = run("billing", "mark-paid", issued.number, "--amount", "1", "--date", issued_on.isoformat())
    assert ok.exit_code == 0, ok.output


def test_the_csv_export_writes_estimated_as_true_or_false_like_the_json(run, db):
    partner = make_franchisee(db)
    agreement = make_agreement(db, partner)
    make_revenue_report(db, make_site(db, partner, agreement), "2026-10", "300000")
    make_site(db, partner, agreement)  # no report: estimated
    db.commit()
    assert run("billing", "run", "--period", "2026-10").exit_code == 0
    assert run("billing", "issue", "--period", "2026-10", "--no-pdf").exit_code == 0
    rows = list(csv.DictReader(io.StringIO(run("billing", "export", "--period", "2026-10", "--format",
                                               "csv").output)))
    assert {row["estimated"] for row in rows} == {"true", "false"}
    records = json.loads(run("billing", "export", "--period", "2026-10").output)
    assert [str(line["estimated"]).lower() for line in records[0]["lines"]] == [row["estimated"] for row in rows]


def test_an_agreement_with_only_onboarding_sites_is_left_out_and_the_series_matches_the_export(run, db):
    network(db, 1)
    partner = make_franchisee(db)
    empty = make_agreement(db, partner)
    make_site(db, partner, empty, status=SiteStatus.onboarding)
    db.commit()
    network(db, 1)
    result = run("billing", "run", "--period", "2026-10")
    assert result.exit_code == 0, result.output
    assert "2 draft(s)" in result.output and "1 left out" in result.output
    assert (f"left out {empty.number} ({partner.code}): no billable site in 2026-10 (sites: 1 onboarding); "
            "no invoice, no number") in result.output
    issued = run("billing", "issue", "--period", "2026-10", "--no-pdf")
    assert "issued BH-2026-000003" not in issued.output
    numbers = [line.split()[1] for line in issued.output.splitlines() if line.startswith("issued ")]
    assert numbers == ["BH-2026-000001", "BH-2026-000002"]
    rows = csv.DictReader(io.StringIO(run("billing", "export", "--period", "2026-10", "--format", "csv").output))
    assert sorted({row["number"] for row in rows}) == numbers


def test_a_negative_payment_term_is_refused_before_anything_is_issued(run, db, env):
    network(db, 1)
    assert run("billing", "run", "--period", "2026-10").exit_code == 0
    result = CliRunner().invoke(cli, ["billing", "issue", "--period", "2026-10"],
                                env=env | {"BRANDHUB_INVOICE_DUE_DAYS": "-15"})
    assert result.exit_code == 1
    assert "BRANDHUB_INVOICE_DUE_DAYS must be from 1 to 365, not -15" in result.output
    db.expire_all()
    assert db.exec(select(Invoice)).one().number is None


def test_the_dry_run_review_shows_revenue_lines_partners_left_out_and_controls(run, db):
    network(db, 1)  # two sites × 300,000: 24,000 + 6,000 + 6,000 + 1,800 each
    partner = make_franchisee(db)
    onboarding = make_agreement(db, partner)
    make_site(db, partner, onboarding, status=SiteStatus.onboarding)
    db.commit()
    result = run("billing", "run", "--period", "2026-10", "--dry-run")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    revenue_row = next(line for line in lines if " draft " in line and "600,000.00" in line)
    assert revenue_row.split()[3:] == ["600,000.00", "0.00", "0.00", "600,000.00"]  # reported, est., corr., base
    kinds_row = next(line for line in lines if "75,600.00" in line)
    assert kinds_row.split()[1:] == ["48,000.00", "12,000.00", "12,000.00", "3,600.00", "0.00", "0.00",
                                     "75,600.00", "4,536.00", "80,136.00"]
    assert any(line.split()[1:] == ["80,136.00", "—", "—", "—"] for line in lines)  # no previous month
    assert f"  {onboarding.number} ({partner.code}): no billable site in 2026-10 (sites: 1 onboarding)" \
        in result.output
    assert "  ok   sum of subtotals + VAT = sum of totals: 80,136.00 = 80,136.00" in result.output
    assert "DOES NOT ADD UP" not in result.output
