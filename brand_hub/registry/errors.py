"""The registry's refusals: what is missing, which value is wrong, which record."""
from __future__ import annotations

from typing import Any

from flask_babel import lazy_gettext as _l


class RegistryError(Exception):
    """A registry request the hub refuses; the message says what and why."""


class NotFound(RegistryError):
    """No partner, site or agreement with that code or number."""


class InvalidValue(RegistryError):
    """One field's value is refused; ``field`` names it so a form can show it in place.

    Reasons are translatable: a form shows them in the reader's language, a
    command (no request) prints them in English.
    """

    def __init__(self, field_name: str, reason: str):
        reason = str(reason)
        super().__init__(f"{field_name}: {reason}")
        self.field = field_name
        self.reason = reason


class InvalidRecord(RegistryError):
    """Several fields of one record are refused at once (a form shows them all)."""

    def __init__(self, errors: dict[str, Any]):
        # plain text now (in the reader's language): a lazy string would reach pages unescaped
        errors = {name: str(reason) for name, reason in errors.items()}
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def no_partner(code: str) -> str:
    """The one wording of a missing partner (translated on a page, English in a command)."""
    return _l("no partner with code %(code)s", code=code)


def no_site(code: str) -> str:
    return _l("no site with code '%(code)s'", code=code)


def no_agreement(number: str) -> str:
    return _l("no agreement with number %(number)s", number=number)
