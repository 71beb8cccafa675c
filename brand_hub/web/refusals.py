"""One way for a view to turn an area's refusal into a message: flash it and roll back.

A service raises its area's exception (``BillingError``, ``ComplianceError``, …) when
it refuses; the view shows the reason to the person and leaves nothing half-written::

    with refused(ComplianceError) as refusal:
        compliance.acknowledge(session=db(), ...)
    if refusal:
        return redirect(url_for(".flag", flag_id=flag_id))
    db().commit()

Anything else (a bug, a database failure) is not caught: it becomes the error page.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from flask import flash

from . import db


@dataclass
class Refusal:
    """What ``refused`` caught; true when the work was refused."""

    error: Exception | None = None

    def __bool__(self) -> bool:
        return self.error is not None


@contextmanager
def refused(*errors: type[Exception], message: Callable[[Exception], str] = str) -> Iterator[Refusal]:
    """Catch ``errors``: roll the request's session back and flash ``message(error)`` as an error."""
    refusal = Refusal()
    try:
        yield refusal
    except errors as exc:
        db().rollback()
        refusal.error = exc
        flash(message(exc), "error")
