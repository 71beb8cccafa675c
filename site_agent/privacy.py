"""Personal data never leaves the site: the scrubbing rule is part of the wire contract (``standards.privacy``)."""
from standards.privacy import REPLACEMENTS, scrub  # noqa: F401
