"""The public survey page (``GET|POST /survey``), guarded against stuffing by ``survey.SurveyLedger``."""
from __future__ import annotations

import dataclasses
import secrets

from flask import make_response, render_template, request

from .buffer import iso
from .intake import Refusal
from .strings import STRINGS
from .survey import COOKIE, TokenRefused, ledger_for, window_days

COOKIE_DAYS = 400


def survey_page(agent, lang: str):
    """Show the form with a fresh signed token; take an answer once per device and survey window.

    Every accepted post is thanked the same way, counted or not: a person stuffing the
    survey learns nothing from the page.
    """
    ledger = ledger_for(agent)
    now = agent.clock()
    context = {"lang": lang, "t": STRINGS[lang], "thanks": False, "error": False, "stale": False, "wait": False,
               "token": ledger.issue_token(now)}
    status = 200
    if request.method == "POST":
        status = _answer(agent, ledger, lang, now, context)
    response = make_response(render_template("survey.html", **context), status)
    device = request.cookies.get(COOKIE) or secrets.token_urlsafe(18)
    response.set_cookie(COOKIE, device, max_age=COOKIE_DAYS * 86400, httponly=True, samesite="Lax",
                        secure=request.is_secure)
    if status == 429:
        response.headers["Retry-After"] = "60"
    return response


def _answer(agent, ledger, lang: str, now, context: dict) -> int:
    client = request.remote_addr or ""
    if not ledger.limits.allow(client):
        context["wait"] = True
        return 429
    try:
        ledger.spend_token(request.form.get("token"), now)
    except TokenRefused:
        context["stale"] = True
        return 400
    answer = agent.survey_answer(request.form.get("score"), request.form.get("comment", ""), lang)
    if isinstance(answer, Refusal):
        agent.record_nps([answer])  # counted by reason, as before
        context["error"] = True
        return 400
    judged = ledger.judge(cookie=request.cookies.get(COOKIE, ""), address=client,
                          user_agent=request.headers.get("User-Agent", ""), score=answer.score, now=now,
                          window=window_days(agent.current_config()))
    if judged.repeat:
        # kept in the ledger, marked; the hub only learns that one repeat was left out of NPS
        agent.ingest_events([{"id": judged.record_id, "kind": "survey_repeat", "at": iso(now), "ref": ""}])
    else:
        outcome = agent.record_nps([dataclasses.replace(answer, record_id=judged.record_id)])
        if not outcome.accepted:
            context["error"] = True
            return 400
    context["thanks"] = True
    return 200
