"""Distribution: publish brand standards and site configs, deliver configs, acknowledge, watch drift.

Files are the source of truth; this package turns a validated folder into immutable
versions in the database, tells the collector what each site should run
(``desired_config``) and records what the site's agent reports (``record_delivery``).
"""
from __future__ import annotations


class DistributionError(Exception):
    """A distribution request that cannot be carried out (unknown site or version, nothing to do)."""


from .configs import (  # noqa: E402
    ConfigRow,
    DesiredConfig,
    SitePublish,
    config_rows,
    desired_config,
    diff_versions,
    get_version,
    inspect_drift,
    is_drifted,
    latest_version,
    publish_configs,
    record_delivery,
    rollback,
    site_by_code,
    site_state,
    versions,
)
from .standards import (  # noqa: E402
    Pending,
    Progress,
    StandardsPublish,
    acknowledge,
    changes,
    get_standard,
    latest_standards,
    pending_for_sites,
    progress_by_site,
    progress_by_standard,
    publish_standards,
    request_acknowledgements,
    standard_versions,
)

__all__ = [
    "ConfigRow", "DesiredConfig", "DistributionError", "Pending", "Progress", "SitePublish", "StandardsPublish",
    "acknowledge", "changes", "config_rows", "desired_config", "diff_versions", "get_standard", "get_version",
    "inspect_drift", "is_drifted", "latest_standards", "latest_version", "pending_for_sites", "progress_by_site",
    "progress_by_standard", "publish_configs", "publish_standards", "record_delivery", "request_acknowledgements",
    "rollback", "site_by_code", "site_state", "standard_versions", "versions",
]
