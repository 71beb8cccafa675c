"""The unit of work writes only what its entry point committed (cosmicpython's rule)."""
from __future__ import annotations

import pytest
from sqlmodel import Session, select

from brand_hub.db import session_scope
from brand_hub.models import Franchisee
from tests.builders import make_franchisee


def _codes(engine) -> set[str]:
    with Session(engine) as session:
        return set(session.exec(select(Franchisee.code)).all())


def test_a_scope_without_commit_writes_nothing(engine):
    with session_scope(engine) as session:
        make_franchisee(session, code="FORGOT")
    assert "FORGOT" not in _codes(engine)


def test_a_scope_keeps_what_was_committed_and_drops_what_came_after(engine):
    with session_scope(engine) as session:
        make_franchisee(session, code="KEPT")
        session.commit()
        make_franchisee(session, code="AFTER")
    assert {"KEPT"} <= _codes(engine)
    assert "AFTER" not in _codes(engine)


def test_a_failing_scope_rolls_back_and_raises(engine):
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        make_franchisee(session, code="BROKEN")
        raise RuntimeError("boom")
    assert "BROKEN" not in _codes(engine)


def test_objects_stay_readable_after_the_commit(engine):
    with session_scope(engine) as session:
        partner = make_franchisee(session, code="READ")
        session.commit()
    assert partner.code == "READ"


def test_what_a_read_only_scope_loaded_stays_readable_after_it(engine):
    with session_scope(engine) as session:
        make_franchisee(session, code="SEEN")
        session.commit()
    with session_scope(engine) as session:
        partner = session.exec(select(Franchisee).where(Franchisee.code == "SEEN")).one()
    assert partner.code == "SEEN"


def test_a_sites_agent_token_is_audited_under_the_sites_code_like_every_site_change(engine):
    from brand_hub import audit
    from brand_hub.collection import issue_token
    from brand_hub.models import AuditEvent
    from tests.builders import make_site

    with session_scope(engine) as session:
        site = make_site(session, make_franchisee(session))
        issue_token(session=session, site_code=site.code, secret_key="test-secret", actor=audit.SYSTEM)
        session.commit()
        code = site.code
    with Session(engine) as session:
        event = session.exec(select(AuditEvent).where(AuditEvent.action == "site.agent_token_issue")).one()
    assert (event.entity_type, event.entity_id) == ("site", code)
