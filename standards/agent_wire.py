"""The contract between a site agent and the hub: the streams, a page's frame, the record words.

Both sides import it from here: the agent (``site_agent``) builds pages and checks
what it takes in with it, the hub (``brand_hub.collection``) checks every page it
pulls against it. Plain data, no I/O.

A page, as ``GET /v1/<stream>?after=<cursor>&limit=<n>`` answers it::

    {"stream": "readings", "site": "SH-JA-01", "records": [...], "cursor": "1234", "more": true}

``cursor`` is the sequence number to ask after next (digits, as text); it never
moves backwards, and moves forward whenever the page holds records.
"""
from __future__ import annotations

import re
from typing import Any

from .privacy import scrub  # noqa: F401  (comments are scrubbed on both sides of the wire)

STREAMS = ("readings", "nps", "events")
EVENT_KINDS = ("ticket_opened", "ticket_first_response", "ticket_resolved", "community_event",
               "membership_started", "membership_renewed", "membership_ended",
               "check_in", "survey_repeat")
# check_in: a day's (or one) front-desk check-ins, quantity = how many; survey_repeat: a survey answer from a
# device that already answered in the window, kept at the site and left out of NPS (issue 11)
ZONE = re.compile(r"^[A-Za-z0-9_.\-]{1,64}$")  # a zone name inside a site (e.g. open-desk, meeting.3)
MAX_PAGE = 5000  # records per page at most, whatever ``limit`` asks


def page(*, stream: str, site: str, records: list[dict[str, Any]], cursor: int, more: bool) -> dict[str, Any]:
    """The page an agent answers with."""
    return {"stream": stream, "site": site, "records": records, "cursor": str(cursor), "more": more}


def frame_problem(stream: str, body: dict[str, Any], after: str) -> str | None:
    """Why a page's frame is unusable (then the whole page is refused), or None when it is sound."""
    records = body.get("records")
    cursor = body.get("cursor")
    if not isinstance(records, list):
        return f"{stream} page after {after}: 'records' is not a list"
    if not isinstance(cursor, str) or not cursor.isdigit():
        return f"{stream} page after {after}: cursor {cursor!r} is not a sequence number"
    if int(cursor) < int(after) or (records and int(cursor) == int(after)):
        return f"{stream} page after {after}: cursor {cursor} does not move forward"
    return None
