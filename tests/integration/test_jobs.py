"""The job table: every scheduled job is registered under its stable id and runs against a real database."""
from __future__ import annotations

import pytest
from sqlmodel import select

from brand_hub.jobs import JOBS, build_scheduler
from brand_hub.models.compliance import EvaluationRun
from brand_hub.models.scoring import SiteScore
from tests.builders import make_franchisee, make_site


def test_every_job_of_the_table_is_scheduled_under_its_stable_id(settings):
    scheduler = build_scheduler(settings)
    assert sorted(job.id for job in scheduler.get_jobs()) == sorted(job.id for job in JOBS)
    assert [j.id for j in build_scheduler(settings, ("send-mail",)).get_jobs()] == ["send-mail"]


def test_an_unknown_job_id_is_refused(settings):
    with pytest.raises(ValueError, match="unknown job id\\(s\\): make-coffee"):
        build_scheduler(settings, ("collect-agents", "make-coffee"))


def test_each_job_runs_once_against_the_database_and_leaves_its_mark(settings, session):
    make_site(session, make_franchisee(session))  # an active site without an agent: nothing to pull
    session.commit()
    for job in JOBS:
        job.function()(settings=settings)  # none raises on a real, nearly empty network
    session.expire_all()
    assert session.exec(select(EvaluationRun)).all(), "the flags job recorded its run"
    assert session.exec(select(SiteScore)).all(), "the scoring job stored the running month's score"
    from brand_hub.models.dashboard import DashboardSnapshot

    assert session.exec(select(DashboardSnapshot)).all(), "the dashboard job kept the network's figures"
