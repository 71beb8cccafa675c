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
from . import trust  # noqa: F401,E402  (issue 11: assessments, correction reviews, disputes, run lines)
from . import foresight  # noqa: F401,E402
from . import partner_staff  # noqa: F401,E402
from . import rollups  # noqa: F401,E402  (issue 15: hourly and daily aggregates of the readings)
from . import dashboard  # noqa: F401,E402  (issue 10: precomputed dashboard figures)
from . import previews  # noqa: F401,E402  (issue 10: stored billing previews)

metadata = SQLModel.metadata
from . import tenure  # noqa: F401,E402  (issue 17: who held a site when)
from .tenure import SiteTenure  # noqa: F401,E402
from .auth import LoginThrottle, UserSession  # noqa: F401,E402
