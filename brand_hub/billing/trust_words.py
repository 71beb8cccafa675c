"""Issue 11 in the reader's language: plausibility findings, verdicts, review and dispute states, diff causes."""
from __future__ import annotations

from decimal import Decimal
from typing import Any

from flask_babel import lazy_gettext as _l, lazy_pgettext

from brand_hub.web.labels import label

VERDICTS = {"plausible": _l("plausible"), "implausible": _l("implausible"),
            "insufficient_data": _l("insufficient data")}
SIGNALS = {"occupancy": _l("occupancy during open hours"), "check_ins": _l("check-ins"),
           "members": _l("membership starts and renewals"), "breakdown": _l("breakdown"),
           "cohort": _l("cohort of similar sites"), "history": _l("own earlier months"),
           "activity": _l("activity figures")}
REASONS = {
    "breakdown_part_exceeds": _l("breakdown part %(fields)s is larger than the gross %(gross)s"),
    "breakdown_mismatch": _l("the breakdown adds up to %(parts)s, not the gross %(gross)s"),
    "breakdown_adds_up": _l("the breakdown adds up to the gross %(gross)s"),
    "cohort_low": _l("revenue per desk %(per_desk)s is %(z)s MADs below the median %(median)s of %(n)s sites "
                     "(%(cohort)s)"),
    "cohort_in_line": _l("revenue per desk %(per_desk)s is in line with the median %(median)s of %(n)s sites "
                         "(%(cohort)s)"),
    "revenue_fell": _l("revenue fell %(pct)s%% against the median %(median)s of its last %(months)s months"),
    "revenue_in_line": _l("revenue is %(pct)s%% against the median %(median)s of its last %(months)s months"),
    "revenue_fell_year": _l("revenue fell %(pct)s%% against the same month last year (%(last_year)s)"),
    "activity_held": _l("%(signal)s held (%(pct)s%%)"),
    "activity_fell": _l("%(signal)s fell (%(pct)s%%)"),
    "activity_eased": _l("%(signal)s eased (%(pct)s%%)"),
    "signals_missing": _l("not available: %(missing)s"),
}
REVIEW_STATES = {"pending": _l("waiting for HQ review"), "accepted": _l("accepted"), "refused": _l("refused"),
                 "in_force": _l("in force")}
REVIEW_WHY = {"billed": _l("corrects a month already invoiced"), "large_cut": _l("lowers the figure by more than the plan allows")}
DISPUTE_STATES = {"open": lazy_pgettext("dispute", "open"), "accepted": _l("accepted"), "partly_accepted": _l("partly accepted"),
                  "rejected": _l("rejected")}
CAUSES = {
    "revenue_changed": _l("revenue changed"), "estimate_replaced": _l("estimate replaced by a report"),
    "now_estimated": _l("now an estimate (report missing)"), "correction_trued_up": _l("correction trued up"),
    "plan_changed": _l("plan changed"), "rate_changed": _l("rate changed"), "desks_changed": _l("desks changed"),
    "site_opened": _l("site opened"), "site_closed": _l("site closed"), "late_fee": _l("late fee"),
}


def _money(value: Any) -> str:
    """An amount in a reason, exactly as stored (Decimal, never a float), to the fen."""
    try:
        amount = Decimal(str(value))
    except (TypeError, ValueError, ArithmeticError):
        return str(value)
    return f"¥{amount:,.2f}" if amount.is_finite() else str(value)


def reason_words(reason: dict[str, Any]) -> str:
    """One stored finding as a sentence in the reader's language (its English text if the code is unknown)."""
    template = REASONS.get(reason.get("code", ""))
    p = reason.get("params") or {}
    if template is None:
        return str(reason.get("text", ""))
    pct = p.get("change_pct")
    values = {
        "fields": ", ".join(str(SIGNALS.get(f, f)) for f in p.get("fields", [])), "gross": _money(p.get("gross")),
        "parts": _money(p.get("parts")), "per_desk": _money(p.get("per_desk")), "median": _money(p.get("median")),
        "z": f"{abs(p.get('z', 0)):.1f}", "n": p.get("n", ""), "cohort": " · ".join(label(part) for part in str(p.get("cohort", "")).split(" · ")),
        "pct": (f"{-pct}" if reason.get("code", "").startswith("revenue_fell") else f"{pct:+d}")
        if isinstance(pct, int) else "", "months": p.get("months", ""), "last_year": _money(p.get("last_year")),
        "signal": SIGNALS.get(p.get("signal", ""), p.get("signal", "")),
        "missing": ", ".join(str(SIGNALS.get(m, m)) for m in p.get("missing", [])),
    }
    return str(template) % values
