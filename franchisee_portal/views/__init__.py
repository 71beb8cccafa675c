"""All portal routes. Each area's module adds its routes to the one portal blueprint."""
from ..blueprint import bp  # noqa: F401
from . import home, collection, distribution, scores, compliance, billing  # noqa: F401,E402
from . import trust  # noqa: F401,E402  (issue 11: disputes of invoice lines)
