"""One way for a view to look a record up and answer 404 when it is not there."""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from flask import abort

from .. import registry
from . import db

T = TypeVar("T")


def or_404(finder: Callable[..., T], *, missing: tuple[type[Exception], ...] = (registry.NotFound,), **kwargs) -> T:
    """``finder(session=<the request's session>, **kwargs)``; a 404 page when it raises one of ``missing``.

    Services look records up by the key people know (``registry.get_site(code=…)``,
    ``compliance.get_flag(flag_id=…)``) and raise their area's "not found"; the
    view turns that into the 404 page and nothing else.
    """
    try:
        return finder(session=db(), **kwargs)
    except missing:
        abort(404)


def site_or_404(code: str):
    """The site with this code, or the 404 page (HQ views: every site is in scope)."""
    return or_404(registry.get_site, code=code)


def row_or_404(model: type[T], record_id: int) -> T:
    """The ``model`` row with this id (HQ views: every record is in scope), or the 404 page."""
    found = db().get(model, record_id)
    if found is None:
        abort(404)
    return found
