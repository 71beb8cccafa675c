"""``brandhub demo --no-serve``: the main job, end to end on the SQLite default."""
from __future__ import annotations

import pytest
from click.testing import CliRunner
from sqlalchemy import func
from sqlmodel import Session, select

from brand_hub.db import make_engine
from brand_hub.models import Franchisee, Site, User
from brand_hub.models.billing import Invoice, InvoiceStatus
from brand_hub.models.collection import ReadingBucket
from brand_hub.models.compliance import CorrectiveActionPlan, Flag
from brand_hub.models.foresight import RenewalDecision
from brand_hub.models.scoring import CardPublication, SiteScore
from brand_hub.models.trust import RevenueAssessment
from cli.main import cli


@pytest.mark.slow  # about a minute: it seeds, replays the office data, scores, bills and renders PDFs
def test_the_demo_seeds_a_whole_working_network_and_prints_the_logins(tmp_path):
    instance = tmp_path / "instance"
    result = CliRunner().invoke(cli, ["demo", "--no-serve"], env={"BRANDHUB_INSTANCE_PATH": str(instance)},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "admin@fangcun.example" in result.output and "fangcun-demo-2026" in result.output
    engine = make_engine(f"sqlite:///{instance / 'brandhub.sqlite'}")
    try:
        with Session(engine) as session:
            def count(model, *where) -> int:
                return session.exec(select(func.count()).select_from(model).where(*where)).one()

            assert (count(Franchisee), count(Site)) == (6, 24)
            assert count(User) >= 16
            uci = session.exec(select(Site).where(Site.code == "SH-JA-01")).one()
            assert count(ReadingBucket, ReadingBucket.site_id == uci.id, ReadingBucket.bucket_minutes == 15) > 500
            assert count(CardPublication) == 2 and count(SiteScore, SiteScore.card == "red") >= 4
            rules = set(session.exec(select(Flag.rule)).all())
            for rule in ("agent-unreachable", "config-drift", "standard-unacknowledged", "revenue-report-missing",
                         "invoice-overdue", "red-card", "termination-review"):
                assert rule in rules, f"the demo shows no {rule} flag"
            assert any(rule.startswith("std:") for rule in rules)
            assert count(CorrectiveActionPlan) >= 1
            # issue 11: the partner whose revenue falls while its sites stay as busy is caught and flagged
            hz = session.exec(select(Site.id).join(Franchisee, Franchisee.id == Site.franchisee_id)
                              .where(Franchisee.code == "HZ01")).all()
            doubted = session.exec(select(RevenueAssessment.site_id).where(
                RevenueAssessment.verdict == "implausible")).all()
            assert set(hz) & set(doubted), "the demo's falling partner HZ01 was not caught"
            assert session.exec(select(Flag).where(Flag.rule == "std:revenue-plausibility/plausible-revenue",
                                                   Flag.site_id.in_(hz))).first() is not None
            issued = session.exec(select(Invoice).where(Invoice.status != InvoiceStatus.draft)).all()
            assert len(issued) == 14 and all(i.number and i.pdf_sha256 for i in issued)
            assert "FC-2024-004 refer_to_review" in result.output and "FC-2023-001 renew," in result.output
            assert "FC-2023-002 renew_with_conditions" in result.output and "FC-2025-006 renewed" in result.output
            assert count(RenewalDecision) == 1
    finally:
        engine.dispose()


def test_every_demo_stage_and_command_is_found_by_name_or_the_import_fails():
    """A renamed stage or command must fail loudly, not silently drop out of the demo or of ``brandhub``."""
    import pytest

    from brand_hub.demo import STAGES, stage_runs
    from cli.main import cli

    assert [name for name, _run in stage_runs()] == list(STAGES)
    with pytest.raises(KeyError):
        stage_runs(("network", "renamed-stage"))
    assert {"network", "sites", "demo", "jobs", "collect", "agent", "standards", "config", "score", "cards", "flags",
            "revenue", "billing", "db", "users", "serve"} <= set(cli.commands)
