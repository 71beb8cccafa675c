"""The registry: partners, sites and agreements, and their bulk import and export.

One module per job:

- ``errors``: ``RegistryError``, ``NotFound``, ``InvalidValue``, ``InvalidRecord`` and the shared wordings;
- ``lookups``: one record by code or number (``get_site``, ``get_franchisee``, ``get_agreement``);
- ``overview``: network totals for the HQ front page;
- ``search``: the sites list (filters, sort, one page with its total);
- ``fields``: the field checks shared by forms, CSV and YAML, with the opening-hours parser;
- ``refs``: the one resolver of partner codes and agreement numbers (``References``);
- ``saving``: create or update one record with its audit event;
- ``imports``: the sites CSV and the network YAML;
- ``export``: the network file, form values, the sites CSV.

Everything other modules use is importable from ``brand_hub.registry`` itself.
"""
from __future__ import annotations

from .errors import InvalidRecord, InvalidValue, NotFound, RegistryError, no_agreement, no_partner, no_site
from .export import (agreement_numbers, export_agreement_values, export_network, export_partner_values,
                     export_site_values, network_yaml, sites_csv)
from .fields import (REGIONS, SITE_CSV_COLUMNS, TIERS, WEEKDAYS, clean_agreement, clean_franchisee, clean_site,
                     format_opening_hours, parse_opening_hours)
from .imports import ImportResult, import_network_yaml, import_sites_csv
from .lookups import get_agreement, get_franchisee, get_site
from .overview import NetworkOverview, network_overview
from .refs import References, resolve_site_refs
from .saving import Saved, save_agreement, save_franchisee, save_site
from .search import SITE_SORTS, Page, SiteQuery, search_sites, site_filter_options

__all__ = [
    "REGIONS", "SITE_CSV_COLUMNS", "SITE_SORTS", "TIERS", "WEEKDAYS",
    "ImportResult", "InvalidRecord", "InvalidValue", "NetworkOverview", "NotFound", "Page", "References",
    "RegistryError", "Saved", "SiteQuery",
    "agreement_numbers", "clean_agreement", "clean_franchisee", "clean_site", "export_agreement_values", "export_network",
    "export_partner_values", "export_site_values", "format_opening_hours", "get_agreement", "get_franchisee",
    "get_site", "import_network_yaml", "import_sites_csv", "network_overview", "network_yaml", "no_agreement",
    "no_partner", "no_site", "parse_opening_hours", "resolve_site_refs", "save_agreement", "save_franchisee", "save_site",
    "search_sites", "site_filter_options", "sites_csv",
]
