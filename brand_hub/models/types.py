"""Column types the hub needs on both SQLite and PostgreSQL.

``UTCDateTime``: times are stored in UTC; SQLite drops the zone, so it is stored
naive-UTC and handed back aware. ``Money``: CNY amounts as ``Decimal``, NUMERIC on
PostgreSQL and exact text on SQLite (never REAL, which would round). ``enum_column``:
every enum of every model, VARCHAR + CHECK on both.
"""
from __future__ import annotations

import enum
from datetime import datetime, timezone
from decimal import Decimal

from sqlalchemy import DateTime, Enum as SAEnum, Numeric, String
from sqlalchemy.types import TypeDecorator


class UTCDateTime(TypeDecorator):
    impl = DateTime(timezone=True)
    cache_ok = True

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(DateTime(timezone=False))
        return dialect.type_descriptor(DateTime(timezone=True))

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; the hub stores aware UTC times only")
        value = value.astimezone(timezone.utc)
        if dialect.name == "sqlite":
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Money(TypeDecorator):
    """An exact decimal amount (default scale 2, the fen)."""

    impl = Numeric(18, 2)
    cache_ok = True

    def __init__(self, precision: int = 18, scale: int = 2):
        super().__init__()
        self.precision = precision
        self.scale = scale

    def load_dialect_impl(self, dialect):
        if dialect.name == "sqlite":
            return dialect.type_descriptor(String(40))
        return dialect.type_descriptor(Numeric(self.precision, self.scale, asdecimal=True))

    def process_bind_param(self, value, dialect):
        if value is None:
            return None
        if isinstance(value, float):
            raise TypeError("money must be Decimal, never float")
        value = Decimal(value)
        if dialect.name == "sqlite":
            return format(value, "f")
        return value

    def process_result_value(self, value, dialect):
        if value is None:
            return None
        return Decimal(value)


def enum_column(enum_cls: type[enum.Enum], name: str) -> SAEnum:
    """A portable enum column type: VARCHAR + CHECK, same on SQLite and PostgreSQL (``name`` names the type)."""
    return SAEnum(enum_cls, name=name, native_enum=False, length=32, validate_strings=True,
                  values_callable=lambda e: [m.value for m in e])
