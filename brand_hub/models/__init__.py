"""All tables of the hub. Import from here so that metadata is complete."""
from sqlmodel import SQLModel

from .registry import (  # noqa: F401
    Agreement,
    AgreementStatus,
    AuditEvent,
    Franchisee,
    FranchiseeStatus,
    Role,
    Site,
    SiteStatus,
    User,
    utcnow,
)
from . import collection, standards, scoring, compliance, billing  # noqa: F401,E402
from . import partner_staff  # noqa: F401,E402

metadata = SQLModel.metadata
