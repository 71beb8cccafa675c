"""Bulk import: the sites CSV and the network YAML.

Every row is checked before anything is written: bad rows are reported (file,
line, field, reason) and the good rows still go in; the caller decides whether
any problem cancels the whole file (``--atomic``). Rows are matched by code or
number, so running the same file again changes nothing.
"""
from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from sqlmodel import Session

from standards.loader import Problem, load_yaml, schema_problems

from .. import audit
from ..models import Agreement, Franchisee, Site
from .errors import InvalidRecord
from .fields import SITE_CSV_COLUMNS, clean_agreement, clean_franchisee, clean_site
from .refs import References
from .saving import Saved, _insert_created, _save


@dataclass
class ImportResult:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def count(self, saved: Saved) -> None:
        if saved.created:
            self.created += 1
        elif saved.changed:
            self.updated += 1
        else:
            self.unchanged += 1


def import_sites_csv(*, session: Session, actor: audit.Actor, text: str, file: str = "sites.csv") -> ImportResult:
    """Create or update sites from a CSV (header row with ``SITE_CSV_COLUMNS``; UTF-8).

    Each bad row is reported with its line and reason and skipped; the good rows
    are added to ``session``. A code appearing twice in the file is refused at
    its second line.
    """
    result = ImportResult()
    reader = csv.DictReader(io.StringIO(text.lstrip("\ufeff")))
    header = reader.fieldnames or []
    missing = [c for c in ("code", "name_zh", "franchisee", "city") if c not in header]
    unknown = [c for c in header if c not in SITE_CSV_COLUMNS]
    if missing or unknown:
        reason = "; ".join(filter(None, [
            f"missing column(s) {', '.join(missing)}" if missing else "",
            f"unknown column(s) {', '.join(unknown)}" if unknown else ""]))
        result.problems.append(Problem(file, 1, f"header: {reason} (columns: {', '.join(SITE_CSV_COLUMNS)})"))
        return result
    refs = References(session, preload=True)
    seen: dict[str, int] = {}
    created: list[Site] = []
    try:
        _import_rows(session, actor, reader, refs, seen, created, result, file, len(header))
    except csv.Error as exc:  # e.g. a NUL byte or an unclosed quote: the rest cannot be read
        result.problems.append(Problem(file, reader.line_num + 1, f"not readable as CSV: {exc}; rows from here on "
                                                                  "were not imported"))
    _insert_created(session, actor, "site", created)
    return result


def _import_rows(session: Session, actor: audit.Actor, reader: csv.DictReader, refs: References,
                 seen: dict[str, int], created: list, result: ImportResult, file: str, columns: int) -> None:
    for row in reader:
        line = reader.line_num
        if None in row:
            result.problems.append(Problem(file, line, f"more cells than the {columns} columns"))
            continue
        if not any((v or "").strip() for v in row.values()):
            continue
        try:
            fields = clean_site(row)
            if fields["code"] in seen:
                raise InvalidRecord({"code": f"{fields['code']} appears already at line {seen[fields['code']]}"})
            seen[fields["code"]] = line
            result.count(_save(session, actor, "site", refs.site(fields["code"]), Site, refs.site_fields(fields),
                               created))
        except InvalidRecord as exc:
            result.problems.append(Problem(file, line, _row_reason(row.get("code"), exc)))


def _row_reason(code: str | None, exc: InvalidRecord) -> str:
    where = f"site {code.strip()}: " if code and code.strip() else ""
    return where + "; ".join(f"{k}: {v}" for k, v in exc.errors.items())



def import_network_yaml(*, session: Session, actor: audit.Actor, text: str,
                        file: str = "network.yaml") -> ImportResult:
    """Create or update partners, agreements and sites from a network file.

    The file has three lists, ``franchisees``, ``agreements`` and ``sites``,
    each entry with the fields of its kind (agreements name their partner by
    ``franchisee`` code, sites their partner and ``agreement`` number). Every
    refused entry is reported at its line; the rest go in, partners first.
    """
    result = ImportResult()
    doc = load_yaml(text, file)
    if doc.problems:
        result.problems.extend(doc.problems)
        return result  # a file read ambiguously (duplicate keys, aliases, bad values) imports nothing
    result.problems.extend(schema_problems(doc, _network_schema()))  # the layout; entries are checked below
    if not isinstance(doc.data, dict):
        return result
    refs = References(session, preload=True)
    for section, handler in (("franchisees", _import_partner), ("agreements", _import_agreement),
                             ("sites", _import_site)):
        entries = doc.data.get(section) or []
        if not isinstance(entries, list):  # reported by the schema
            continue
        created: list = []
        for index, entry in enumerate(entries):
            if not isinstance(entry, dict):  # reported by the schema
                continue
            try:
                result.count(handler(session, actor, refs, entry, created))
            except InvalidRecord as exc:
                field_name = next(iter(exc.errors))
                label = entry.get("code") or entry.get("number") or f"{section}[{index}]"
                result.problems.append(Problem(file, doc.line_of([section, index, field_name]),
                                               f"{section[:-1]} {label}: " + "; ".join(
                                                   f"{k}: {v}" for k, v in exc.errors.items())))
        _insert_created(session, actor, _KINDS[section], created)  # later sections need their ids
    return result


_KINDS = {"franchisees": "franchisee", "agreements": "agreement", "sites": "site"}
NETWORK_SCHEMA_PATH = Path(__file__).resolve().parents[2] / "standards" / "network.schema.json"


@lru_cache(maxsize=1)
def _network_schema() -> dict:
    return json.loads(NETWORK_SCHEMA_PATH.read_text(encoding="utf-8"))


def _import_partner(session: Session, actor: audit.Actor, refs: References, entry: dict, created: list) -> Saved:
    fields = clean_franchisee(entry)
    if fields["code"] in refs.seen_partners:
        raise InvalidRecord({"code": f"{fields['code']} appears twice in the file"})
    refs.seen_partners.add(fields["code"])
    saved = _save(session, actor, "franchisee", refs.partners.get(fields["code"]), Franchisee, fields, created)
    refs.partners[saved.obj.code] = saved.obj
    return saved


def _import_agreement(session: Session, actor: audit.Actor, refs: References, entry: dict, created: list) -> Saved:
    fields = clean_agreement(entry)
    fields["franchisee_id"] = refs.partner_id(fields.pop("franchisee"))
    if fields["number"] in refs.seen_agreements:
        raise InvalidRecord({"number": f"{fields['number']} appears twice in the file"})
    refs.seen_agreements.add(fields["number"])
    saved = _save(session, actor, "agreement", refs.agreements.get(fields["number"]), Agreement, fields, created)
    refs.agreements[saved.obj.number] = saved.obj
    return saved


def _import_site(session: Session, actor: audit.Actor, refs: References, entry: dict, created: list) -> Saved:
    fields = refs.site_fields(clean_site(entry))
    if fields["code"] in refs.seen_sites:
        raise InvalidRecord({"code": f"{fields['code']} appears twice in the file"})
    refs.seen_sites.add(fields["code"])
    saved = _save(session, actor, "site", refs.site(fields["code"]), Site, fields, created)
    refs.sites[saved.obj.code] = saved.obj
    return saved

