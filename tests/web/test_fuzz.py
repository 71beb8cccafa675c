"""No input makes a 500: a fixed corpus of nasty values against every route, form field and parameter.

The routes come from the app's URL map, so routes other areas add are fuzzed as
soon as they exist. The fields of each route are what its forms show (every GET
page is read and its forms parsed, as a browser would) plus every name the view's
module reads from ``request.args``/``request.form``. Each route gets:

- every corpus value in every path argument and, at once, in every field;
- for each field, a rotating share of the corpus while the other fields keep the
  form's own (valid) values, so a bad value is not masked by an earlier field.

It runs as a signed-in HQ admin (``/hq``) and partner admin (``/portal``) with a valid
CSRF token, on SQLite and PostgreSQL, and fails on any 5xx, any traceback on a page,
or any bad value stored (NUL or control characters, over-long text, huge amounts,
dates outside 2000–2100), checked in the database afterwards.
"""
from __future__ import annotations

import inspect
import re
import sys
import zlib
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from html.parser import HTMLParser
from urllib.parse import quote, urlsplit

import pytest
from sqlalchemy import String
from sqlmodel import select

from brand_hub.models import Role, metadata
from brand_hub.web.converters import MAX_AMOUNT, text_problem
from tests.builders import make_agreement, make_franchisee, make_revenue_report, make_site, make_user
from tests.conftest import csrf_token, login

CORPUS = [
    "1e20", "1E+30", "1e999", "-1e309", "NaN", "inf", "-inf",
    "2147483648", "18446744073709551616", "-2147483649", "123456789012345678901234",
    "0", "-1", "0.001", "1,,,0", "１２３",  # full-width digits
    "\x00", "abc\x00def", "\x1b[31m", "x" * 10_240,
    "\u202eevil\u202c", "\u200f\u05d0",
    "2026-13", "2026-Q5", "0000-01", "9999-12", "2026-00", "2026-13-01", "0001-01-01", "2026-02-30",
    "9999-12-31",
    "{{ 7*7 }}", "{% raw %}", "' OR '1'='1' --", "1; DROP TABLE site; --", "%s%s%s%n",
    "../../etc/passwd", "<script>alert(1)</script>", "", " ",
]
ID_GUESSES = {"2147483648", "18446744073709551616", "-1", "0"}
TRACEBACK = re.compile(r"Traceback \(most recent call last\)|File \"[^\"]+\.py\", line \d+|werkzeug\.exceptions|"
                       r"sqlalchemy\.exc|psycopg\.|<title>500 Internal Server Error</title>")
SKIP_ENDPOINTS = {"static", "auth.logout"}  # signing out ends the run's own session (tested elsewhere)
FIELD_SHARE = 2  # corpus values each field gets on its own, the others valid
_READS = re.compile(r"""(?:args|form|values)\.(?:get|getlist)\(\s*["']([a-zA-Z_][\w]*)["']|"""
                    r"""(?:args|form|values)\[\s*["']([a-zA-Z_][\w]*)["']\s*\]""")
_KEYS_FOR = re.compile(r"""for k in \(([^)]*)\)""")


class _Forms(HTMLParser):
    """The forms of a page: action, method and each field's name with its current value."""

    def __init__(self, page_url: str):
        super().__init__()
        self.page_url = page_url
        self.forms: list[dict] = []
        self._form: dict | None = None
        self._select: str | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "form":
            self._form = {"action": a.get("action") or self.page_url, "method": (a.get("method") or "get").lower(),
                          "fields": {}}
            self.forms.append(self._form)
            return
        if self._form is None:
            return
        name = a.get("name")
        if tag == "input" and name:
            if a.get("type") in ("checkbox", "radio") and name in self._form["fields"]:
                return
            self._form["fields"][name] = a.get("value", "")
        elif tag == "button" and name:
            self._form["fields"].setdefault(name, a.get("value", ""))
        elif tag == "select" and name:
            self._select = name
            self._form["fields"].setdefault(name, "")
        elif tag == "option" and self._select:
            if not self._form["fields"][self._select] or "selected" in a:
                self._form["fields"][self._select] = a.get("value", "")
        elif tag == "textarea" and name:
            self._textarea = name
            self._form["fields"][name] = ""
        if tag == "button" and a.get("formaction"):
            self.forms.append({"action": a["formaction"], "method": "post", "fields": self._form["fields"]})

    def handle_data(self, data):
        if self._textarea and self._form is not None:
            self._form["fields"][self._textarea] += data
        if self._select and self._form is not None and not self._form["fields"][self._select]:
            self._form["fields"][self._select] = data.strip()

    def handle_endtag(self, tag):
        if tag == "form":
            self._form = None
        elif tag == "select":
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _names_read_by(view, whole_module: bool = False) -> set[str]:
    """Field names the view (or its whole module) reads from the request, so fields without a form are fuzzed too."""
    target = sys.modules.get(view.__module__) if whole_module else inspect.unwrap(view)
    try:
        source = inspect.getsource(target) if target else ""
    except (OSError, TypeError):
        source = ""
    names = {a or b for a, b in _READS.findall(source)}
    for group in _KEYS_FOR.findall(source):
        names.update(re.findall(r"""["'](\w+)["']""", group))
    return names


@pytest.fixture
def network(session):
    """One partner with a site, an agreement, a revenue report, an issued invoice, a flag and a standard."""
    from brand_hub.models.billing import Invoice, InvoiceLine, InvoiceStatus
    from brand_hub.models.compliance import Flag, FlagState
    from brand_hub.models.standards import SiteConfigState, SiteConfigVersion, Standard, StandardAcknowledgement

    now = datetime.now(timezone.utc)
    partner = make_franchisee(session, code="FUZZ")
    agreement = make_agreement(session, partner, number="AG-FUZZ")
    site = make_site(session, partner, agreement, code="FZ-01")
    make_revenue_report(session, site, "2026-09", "88000.00")
    invoice = Invoice(number="FC-FUZZ-0001", agreement_id=agreement.id, franchisee_id=partner.id, period="2026-09",
                      status=InvoiceStatus.draft, plan_id="standard-2026",
                      due_date=date(2026, 10, 15), subtotal=Decimal("5280.00"), total=Decimal("5280.00"))
    session.add(invoice)
    session.flush()
    session.add(InvoiceLine(invoice_id=invoice.id, position=1, site_id=site.id, site_code=site.code, kind="royalty",
                            description="royalty", service_period="2026-09", amount=Decimal("5280.00"),
                            plan_id="standard-2026"))
    session.flush()
    invoice.status, invoice.issued_at = InvoiceStatus.issued, now  # issued after its lines, as the hub does
    session.add(invoice)
    flag = Flag(site_id=site.id, franchisee_id=partner.id, rule="data.silent", subject=site.code,
                state=FlagState.open, opened_at=now, last_seen_at=now, ack_due_at=now + timedelta(days=3),
                open_key=f"data.silent:{site.code}")
    standard = Standard(key="fuzz-standard", version=1, category="service", title_zh="标准",
                        content={"text": {"zh": "保持安静。", "en": "Keep it quiet."}},
                        content_hash="sha256:x")
    session.add_all([flag, standard])
    session.flush()
    ack = StandardAcknowledgement(site_id=site.id, standard_id=standard.id, due_at=now + timedelta(days=30))
    session.add(ack)
    for version in (1, 2):  # two config versions, so the config pages compare them
        session.add(SiteConfigVersion(site_id=site.id, version=version, content_hash=f"sha256:{version}",
                                      content={"hours": {"open": f"0{version + 7}:00"}}))
    session.add(SiteConfigState(site_id=site.id, desired_version=2, desired_hash="sha256:2"))
    hq = make_user(session, Role.hq_admin, email="hq-fuzz@example.com")
    portal = make_user(session, Role.franchisee_admin, franchisee=partner, email="portal-fuzz@example.com")
    spare = make_user(session, Role.hq_viewer, email="spare-fuzz@example.com")
    session.commit()
    return {"code": site.code, "site_code": site.code, "number": agreement.number, "partner": partner.code,
            "key": standard.key, "flag_id": str(flag.id), "invoice_id": str(invoice.id), "ack_id": str(ack.id),
            "user_id": str(spare.id), "action": "acknowledge",
            "hq": hq.email, "portal": portal.email, "users": (hq.id, portal.id, spare.id)}


def _path(rule, values: dict, nasty: str | None = None) -> str:
    path = rule.rule
    for conv, name in re.findall(r"<(?:([a-z]+)(?:\([^)]*\))?:)?(\w+)>", rule.rule):
        value = values.get(name, "1") if nasty is None else quote(nasty, safe="")
        path = re.sub(rf"<(?:[a-z]+(?:\([^)]*\))?:)?{name}>", value or "x", path, count=1)
    return path


class Fuzzer:
    def __init__(self, app, network, session):
        self.app, self.network, self.session = app, network, session
        self.clients = {"hq": app.test_client(), "portal": app.test_client(), "anon": app.test_client()}
        self.failures: list[str] = []
        self.requests = 0
        self.forms: dict[str, list[dict]] = {}  # action path -> forms posting there

    def who(self, rule) -> str:
        from brand_hub.web.access import PUBLIC

        if getattr(self.app.view_functions[rule.endpoint], "allowed_roles", None) == PUBLIC:
            return "anon"
        return "portal" if rule.rule.startswith("/portal") else "hq"

    def sign_in(self) -> None:
        from brand_hub.models import LoginThrottle, User

        self.session.rollback()
        for user_id in self.network["users"]:
            user = self.session.get(User, user_id)
            user.active = True
            self.session.add(user)
        for row in self.session.exec(select(LoginThrottle)).all():
            self.session.delete(row)
        self.session.commit()
        signed_in_again = not hasattr(self, "tokens")
        for who in ("hq", "portal"):
            client = self.clients[who]
            probe = client.get("/hq/users" if who == "hq" else "/portal/agreements")
            if probe.status_code != 200:
                assert login(client, self.network[who]).status_code == 302, f"{who} cannot sign in again"
                signed_in_again = True
            probe.close()
        if signed_in_again:  # a new session has a new CSRF token
            self.tokens = {w: csrf_token(c, "/login") for w, c in self.clients.items()}

    def send(self, who: str, method: str, path: str, data: dict | None = None, query: dict | None = None) -> None:
        client = self.clients[who]
        self.requests += 1
        if method == "GET":
            response = client.get(path, query_string=query)
        else:
            body = dict(data or {})
            body["csrf_token"] = self.tokens[who]
            response = client.open(path, method=method, data=body, query_string=query)
        where = f"{who} {method} {path} {repr(query or data)[:160]}"
        if response.status_code >= 500:
            self.failures.append(f"{response.status_code}: {where}")
        elif response.mimetype == "text/html" and TRACEBACK.search(response.get_data(as_text=True)):
            self.failures.append(f"traceback shown: {where}")
        response.close()

    def crawl_forms(self, rules) -> None:
        """Read every GET page as its user and keep its forms by where they post."""
        for rule in rules:
            if "GET" not in rule.methods or rule.endpoint in SKIP_ENDPOINTS:
                continue
            who = self.who(rule)
            path = _path(rule, self.network)
            response = self.clients[who].get(path)
            if response.mimetype == "text/html":
                parser = _Forms(path)
                parser.feed(response.get_data(as_text=True))
                for form in parser.forms:
                    action = urlsplit(form["action"]).path or path
                    self.forms.setdefault(action, []).append(form)
            response.close()

    def fields_of(self, rule, method: str) -> dict[str, str]:
        """The route's fields with valid values where a form shows them, else a plausible default."""
        path = _path(rule, self.network)
        fields: dict[str, str] = {}
        for form in self.forms.get(path, []):
            if (form["method"] == "post") == (method == "POST"):
                fields.update({k: v or _plausible(k, self.network) for k, v in form["fields"].items()
                               if k != "csrf_token"})
        for name in sorted(_names_read_by(self.app.view_functions[rule.endpoint])):
            fields.setdefault(name, _plausible(name, self.network))
        return fields

    def fuzz(self, rule, method: str) -> None:
        who = self.who(rule)
        fields = self.fields_of(rule, method)
        valid_path = _path(rule, self.network)
        send_fields = (lambda d: self.send(who, method, valid_path, query=d)) if method == "GET" \
            else (lambda d: self.send(who, method, valid_path, data=d))
        everything = set(fields) | _names_read_by(self.app.view_functions[rule.endpoint], whole_module=True)
        # Path arguments: a sixth of the corpus, a different sixth for each route, plus the id guesses;
        # all fields at once: half the corpus for forms, a quarter for pages that only read a query (a
        # different share for each route), so the run stays within a minute or so per database.
        shift = zlib.crc32(rule.rule.encode())
        for n, nasty in enumerate(CORPUS):
            if rule.arguments and ((n + shift) % 6 == 0 or nasty in ID_GUESSES):
                self.send(who, method, _path(rule, self.network, nasty), data=dict(fields) if method != "GET" else None)
            if (n + shift) % (2 if method == "POST" else 4) == 0:
                send_fields({name: nasty for name in everything})
        for i, name in enumerate(sorted(fields)):
            for k in range(FIELD_SHARE):
                nasty = CORPUS[(i * FIELD_SHARE + k) % len(CORPUS)]
                send_fields({**fields, name: nasty})
        if method == "GET":  # and the parameters every list page may take
            for nasty in ("1e20", "18446744073709551616", "-1", "\x00"):
                self.send(who, method, valid_path, query={"page": nasty, "sort": nasty, "dir": nasty})


def _plausible(name: str, network: dict) -> str:
    """A valid value for a field the form leaves empty, so one nasty field at a time reaches the service."""
    if name in network and isinstance(network[name], str):
        return network[name]
    if name.endswith(("_date", "_on")):
        return "2026-06-01"
    if name.endswith("email"):
        return "someone@example.com"
    return {"period": "2026-10", "gross_revenue": "1000.00", "amount": "10.00", "paid_on": "2026-10-20",
            "until": "2026-12-31", "due_on": "2026-12-31", "page": "1", "site": network["code"],
            "lang": "en", "active": "1"}.get(name, "x")


def _stored_problems(engine) -> list[str]:
    """Every stored value the hub should have refused."""
    problems = []
    with engine.connect() as conn:
        for table in metadata.sorted_tables:
            for row in conn.execute(table.select()).mappings():
                for column in table.columns:
                    value = row[column.key]
                    where = f"{table.name}.{column.key} = {repr(value)[:60]}"
                    if isinstance(value, str):
                        limit = column.type.length if isinstance(column.type, String) and column.type.length else 20_000
                        if column.key in ("password_hash", "token_hash"):
                            continue
                        problem = text_problem(value, limit)
                        if problem:
                            problems.append(f"{where}: {problem}")
                    elif isinstance(value, Decimal) and (not value.is_finite() or abs(value) > MAX_AMOUNT):
                        problems.append(f"{where}: amount out of bounds")
                    elif isinstance(value, (date, datetime)) and not 2000 <= value.year <= 2100:
                        problems.append(f"{where}: date out of bounds")
                    elif isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**31 - 1:
                        problems.append(f"{where}: integer out of bounds")
    return problems


@pytest.mark.slow  # a few thousand requests per database
def test_no_input_makes_a_server_error_or_stores_a_bad_value(app, network, session, engine):
    fuzzer = Fuzzer(app, network, session)
    fuzzer.sign_in()
    rules = [r for r in app.url_map.iter_rules() if r.endpoint not in SKIP_ENDPOINTS]
    fuzzer.crawl_forms(rules)
    covered = set()
    for rule in sorted(rules, key=lambda r: (r.rule.startswith("/login"), r.rule)):
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            fuzzer.sign_in()
            fuzzer.fuzz(rule, method)
            covered.add((rule.endpoint, method))
    print(f"fuzz: {fuzzer.requests} requests over {len(covered)} route/method pairs")
    assert fuzzer.failures == [], f"{len(fuzzer.failures)} of {fuzzer.requests} requests failed:\n" + \
        "\n".join(fuzzer.failures[:60])
    assert _stored_problems(engine) == []
    assert len(covered) >= len(rules)
