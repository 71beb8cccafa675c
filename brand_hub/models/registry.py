"""The registry: partners (franchisees), their sites and agreements, users, audit."""
from __future__ import annotations

import enum
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any, Optional

from sqlalchemy import JSON, Column, Index
from sqlmodel import Field, SQLModel

from .types import Money, UTCDateTime, enum_column


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


class FranchiseeStatus(str, enum.Enum):
    prospect = "prospect"
    active = "active"
    on_notice = "on_notice"
    suspended = "suspended"
    terminated = "terminated"


class SiteStatus(str, enum.Enum):
    onboarding = "onboarding"
    active = "active"
    suspended = "suspended"
    terminated = "terminated"


class AgreementStatus(str, enum.Enum):
    draft = "draft"
    active = "active"
    expired = "expired"
    terminated = "terminated"


class Role(str, enum.Enum):
    hq_admin = "hq_admin"
    hq_manager = "hq_manager"
    hq_finance = "hq_finance"
    hq_viewer = "hq_viewer"
    franchisee_admin = "franchisee_admin"
    franchisee_staff = "franchisee_staff"

    @property
    def is_hq(self) -> bool:
        return self.value.startswith("hq_")


class Franchisee(SQLModel, table=True):
    """A partner company licensed to run sites under the brand."""

    __tablename__ = "franchisee"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)
    legal_name: str = Field(max_length=200)          # 上海某某企业管理有限公司
    name_en: str = Field(default="", max_length=200)
    unified_credit_code: str = Field(default="", max_length=32)  # 统一社会信用代码
    contact_name: str = Field(default="", max_length=100)
    contact_email: str = Field(default="", max_length=200)
    contact_phone: str = Field(default="", max_length=50)
    address: str = Field(default="", max_length=300)
    status: FranchiseeStatus = Field(default=FranchiseeStatus.active,
                                     sa_column=Column(enum_column(FranchiseeStatus, "franchisee_status"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Agreement(SQLModel, table=True):
    """A brand licence: which partner, which sites, which royalty plan, for how long."""

    __tablename__ = "agreement"

    id: Optional[int] = Field(default=None, primary_key=True)
    number: str = Field(max_length=40, unique=True, index=True)  # e.g. FC-2024-001
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    start_date: date
    end_date: Optional[date] = None
    royalty_plan_id: str = Field(default="standard-2026", max_length=80)
    territory: str = Field(default="", max_length=200)
    status: AgreementStatus = Field(default=AgreementStatus.active,
                                    sa_column=Column(enum_column(AgreementStatus, "agreement_status"), nullable=False))
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class Site(SQLModel, table=True):
    """A licensed location run by a partner."""

    __tablename__ = "site"

    id: Optional[int] = Field(default=None, primary_key=True)
    code: str = Field(max_length=32, unique=True, index=True)  # e.g. SH-JA-01
    name_zh: str = Field(max_length=200)
    name_en: str = Field(default="", max_length=200)
    franchisee_id: int = Field(foreign_key="franchisee.id", index=True)
    agreement_id: Optional[int] = Field(default=None, foreign_key="agreement.id", index=True)
    city: str = Field(max_length=80, index=True)  # Chinese city name, e.g. 上海
    region: str = Field(default="", max_length=40, index=True)  # e.g. east, north, south
    tier: str = Field(default="standard", max_length=40, index=True)  # flagship / standard / lite
    address: str = Field(default="", max_length=300)
    timezone: str = Field(default="Asia/Shanghai", max_length=64)
    # {"mon": [["09:00", "21:00"]], ..., "sun": []}: local opening intervals per weekday
    opening_hours: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    area_m2: Decimal = Field(default=Decimal("0"), sa_type=Money(12, 2))
    desks: int = Field(default=0, ge=0)
    status: SiteStatus = Field(default=SiteStatus.onboarding,
                               sa_column=Column(enum_column(SiteStatus, "site_status"), nullable=False, index=True))
    opened_on: Optional[date] = None
    agent_url: str = Field(default="", max_length=300)
    agent_token_hash: str = Field(default="", max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


class User(SQLModel, table=True):
    """Someone who signs in: HQ staff, or a partner's staff (``franchisee_id`` set)."""

    __tablename__ = "user_account"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=200, unique=True, index=True)
    name: str = Field(default="", max_length=100)
    password_hash: str = Field(max_length=300)
    role: Role = Field(sa_column=Column(enum_column(Role, "user_role"), nullable=False))
    franchisee_id: Optional[int] = Field(default=None, foreign_key="franchisee.id", index=True)
    active: bool = True
    locale: str = Field(default="", max_length=10)
    failed_logins: int = 0
    locked_until: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    last_login_at: Optional[datetime] = Field(default=None, sa_type=UTCDateTime)
    created_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)

    # Flask-Login protocol
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    @property
    def is_hq(self) -> bool:
        return Role(self.role).is_hq


class AuditEvent(SQLModel, table=True):
    """An append-only record of one change made at HQ (or by a command)."""

    __tablename__ = "audit_event"
    __table_args__ = (Index("ix_audit_entity", "entity_type", "entity_id"),)

    id: Optional[int] = Field(default=None, primary_key=True)
    at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False, index=True)
    actor_id: Optional[int] = Field(default=None, foreign_key="user_account.id")
    actor: str = Field(max_length=200)  # e-mail, or "cli:<os user>", or "system"
    action: str = Field(max_length=80, index=True)  # e.g. site.update
    entity_type: str = Field(max_length=60)
    entity_id: str = Field(default="", max_length=80)
    before: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
    after: Optional[dict[str, Any]] = Field(default=None, sa_column=Column(JSON))
