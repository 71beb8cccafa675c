"""A long invoice PDF as the partner reads it: rows whole, totals with the last lines, payee, one font family."""
from __future__ import annotations

import re
import subprocess
from datetime import date, datetime, timezone

from brand_hub.audit import SYSTEM
from brand_hub.billing import invoices, pdf, plans, runs
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site

PAYEE = pdf.Payee(legal_name="上海方寸空间品牌管理有限公司", tax_id="91310000MA1FL0XX0X", bank="招商银行上海分行",
                  account="1219 0000 0000 0000")
KIND = re.compile(r"(特许权使用费|保底补足|品牌基金|技术服务费) ")
AMOUNT_AT_END = re.compile(r"\d{1,3}(,\d{3})*\.\d{2}\s*$")


def long_invoice(session, sites: int = 30):
    partner = make_franchisee(session, legal_name="上海静安方寸企业管理有限公司")
    agreement = make_agreement(session, partner)
    for i in range(sites):
        site = make_site(session, partner, agreement, desks=50 + i)
        if i % 5 != 4:  # every fifth site has no report: estimated lines
            make_revenue_report(session, site, "2026-10", str(250000 + i * 37000))
    runs.write_drafts(session=session, period="2026-10", actor=SYSTEM, drafts=runs.compute(
        session=session, period="2026-10", plans=plans(), today=date(2026, 11, 5)))
    [issued] = invoices.issue_period(session=session, period="2026-10", actor=SYSTEM, due_days=15,
                                     now=datetime(2026, 11, 5, tzinfo=timezone.utc))
    pdf.render_missing(session=session, brand_name="方寸空间 FangCun Space", workers=1, payee=PAYEE)
    session.commit()
    return issued


def pages_of(path) -> list[str]:
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(path)], capture_output=True, text=True,
                                                              check=True).stdout).group(1))
    return [subprocess.run(["pdftotext", "-layout", "-f", str(n), "-l", str(n), str(path), "-"], capture_output=True,
                           text=True, check=True).stdout for n in range(1, count + 1)]


def test_a_long_invoice_keeps_rows_whole_and_the_totals_with_its_last_lines(sqlite_url, tmp_path):
    from sqlmodel import Session

    from brand_hub.db import make_engine

    engine = make_engine(sqlite_url)
    with Session(engine, expire_on_commit=False) as session:
        issued = long_invoice(session)
        path = tmp_path / "long.pdf"
        path.write_bytes(pdf.stored_pdf(session=session, invoice=issued))
    engine.dispose()
    pages = pages_of(path)
    assert len(pages) >= 3
    for number, text in enumerate(pages, start=1):
        rows = [line for line in text.splitlines() if KIND.search(line)]
        assert rows, f"page {number} has no line"
        for row in rows:  # a row split across pages would leave its label without its amount
            assert AMOUNT_AT_END.search(row), f"page {number}: row without its amount: {row!r}"
        assert not re.search(r"S\d{4}\s*$", text.rstrip().splitlines()[-2] if len(text.splitlines()) > 1 else ""), \
            f"page {number} ends on a site heading"
    last = pages[-1]
    assert "合计 Total" in last and "付款信息 Payment details" in last
    assert sum(1 for line in last.splitlines() if KIND.search(line)) >= 2  # the totals follow lines they add up
    assert all("合计 Total" not in page for page in pages[:-1])
    assert "上海方寸空间品牌管理有限公司" in last and "91310000MA1FL0XX0X" in last
    assert "上海方寸空间品牌管理有限公司" in pages[0] and "91310000MA1FL0XX0X" in pages[0]  # payee in the heading
    fonts = subprocess.run(["pdffonts", str(path)], capture_output=True, text=True, check=True).stdout
    families = {re.sub(r"^[A-Z]{6}\+", "", line.split()[0]).replace("-Bold", "")
                for line in fonts.splitlines()[2:] if line.strip()}
    assert families == {"Noto-Sans-CJK-SC"}
