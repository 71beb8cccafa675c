"""The two lists of implausible revenue reports in force, kept apart on purpose (SQLite and PostgreSQL).

The checks page (``implausible_in_force``) counts an implausible estimate in force; ``brandhub revenue
doubts`` (``implausible_reported``) lists the reported figures only, as the plausibility check judges them.
"""
from __future__ import annotations

from brand_hub.billing import reads
from brand_hub.models.billing import ReportSource, ReportStatus
from brand_hub.models.trust import RevenueAssessment
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site


def implausible(session, report):
    session.add(RevenueAssessment(report_id=report.id, site_id=report.site_id, period=report.period,
                                  verdict="implausible", reasons=[]))
    session.flush()


def test_the_doubts_list_leaves_out_an_implausible_estimate_that_the_checks_page_counts(session):
    partner = make_franchisee(session)
    agreement = make_agreement(session, partner)
    reported_site, estimated_site, older_site = (make_site(session, partner, agreement) for _ in range(3))
    implausible(session, make_revenue_report(session, reported_site, "2026-10", "1000"))
    implausible(session, make_revenue_report(session, estimated_site, "2026-10", "1000",
                                             status=ReportStatus.estimated, source=ReportSource.estimate))
    implausible(session, make_revenue_report(session, older_site, "2026-09", "1000"))
    session.commit()

    doubts = reads.implausible_reported(session=session, period=None)
    page = reads.implausible_in_force(session=session, period=None)

    assert [(s.code, a.period) for a, s in doubts] == [(reported_site.code, "2026-10"), (older_site.code, "2026-09")]
    assert sorted(s.code for _, _, s in page) == sorted([reported_site.code, estimated_site.code, older_site.code])
    assert [s.code for _, s in reads.implausible_reported(session=session, period="2026-09")] == [older_site.code]
