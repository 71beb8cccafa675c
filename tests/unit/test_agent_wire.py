"""The agent's wire contract lives in standards/: the agent builds pages with it, the hub checks them with it."""
from __future__ import annotations

from brand_hub.collection import pages as hub_pages
from site_agent import intake
from standards import agent_wire


def test_hub_and_agent_share_one_zone_pattern_and_one_list_of_event_kinds():
    assert intake.ZONE is agent_wire.ZONE
    assert intake.EVENT_KINDS is agent_wire.EVENT_KINDS
    assert hub_pages.STREAMS is agent_wire.STREAMS


def test_a_page_the_agent_builds_has_a_sound_frame_for_the_hub():
    page = agent_wire.page(stream="readings", site="SH-01", records=[{"zone": "a"}], cursor=7, more=False)
    assert page["cursor"] == "7" and agent_wire.frame_problem("readings", page, "3") is None
    assert "does not move forward" in agent_wire.frame_problem("readings", page, "7")
    assert "'records' is not a list" in agent_wire.frame_problem("nps", {"cursor": "1"}, "0")
