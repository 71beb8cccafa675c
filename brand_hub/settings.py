"""One settings object for the hub, read from ``BRANDHUB_*`` environment variables.

Every entry point (web app, CLI command, scheduler process, test) builds a
``Settings`` and hands it down; nothing reads the environment anywhere else.
"""
from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path

DEV_SECRET_KEY = "dev-only-not-secret"
ENVIRONMENTS = ("development", "testing", "production")


class SettingsError(ValueError):
    """The environment describes settings the hub refuses to run with."""


def _bool(value: str) -> bool:
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off", ""}:
        return False
    raise SettingsError(f"not a boolean: {value!r}")


@dataclass(frozen=True)
class Settings:
    """Everything the hub can be configured with. Field ``x`` comes from ``BRANDHUB_X``."""

    env: str = "development"
    instance_path: Path = field(default_factory=lambda: Path.cwd() / "instance")
    database_url: str = ""
    secret_key: str = DEV_SECRET_KEY
    locale: str = "zh_CN"
    timezone: str = "Asia/Shanghai"
    brand_name: str = "方寸空间 FangCun Space"

    # sign-in
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    # collection (site agents)
    collect_interval_seconds: int = 300
    collect_jitter_seconds: int = 30
    collect_workers: int = 16
    collect_timeout_seconds: float = 10.0
    collect_retries: int = 2
    collect_page_limit: int = 1000
    collect_lease_seconds: int = 120  # a collector's hold on a site; renewed with every page
    collect_backoff_seconds: float = 0.5  # first retry wait; doubles with each retry
    agent_tls_verify: bool = True

    # standards and site configs (files are the source of truth)
    standards_dir: str = ""
    configs_dir: str = ""
    config_drift_grace_minutes: int = 60

    # scoring (the model files; empty: the brand's library in standards/library/scoring)
    scoring_dir: str = ""
    score_workers: int = 2  # threads reading sites' buckets while scoring (each on its own connection)

    # mail (compliance notifications)
    smtp_host: str = "localhost"
    smtp_port: int = 25
    smtp_starttls: bool = False
    smtp_ssl: bool = False
    smtp_username: str = ""
    smtp_password: str = ""
    mail_from: str = "brandhub@localhost"
    smtp_timeout_seconds: float = 10.0
    outbox_claim_minutes: int = 10  # a message claimed longer ago than this (a crashed sender) is tried again
    flag_ack_hours: int = 72  # a partner's time to acknowledge an open flag
    flag_escalation_hours: int = 72  # then to the regional manager, after as long again to brand HQ
    flag_regional_managers: str = ""  # per region: "east=a@example.cn,b@example.cn;north=c@example.cn"

    # billing
    pdf_workers: int = 0  # 0: one per core
    invoice_due_days: int = 15
    revenue_report_due_day: int = 10
    renewal_window_days: int = 180  # the renewals page lists agreements whose term ends within this many days
    renewal_rules_dir: str = ""  # the renewal rules file; empty: the brand's library in standards/library/renewals
    royalty_dir: str = ""  # the royalty plan files; empty: the brand's library in standards/library/royalty
    payee_legal_name: str = ""  # printed on invoices as the payee; empty: the brand name
    payee_tax_id: str = ""  # the payee's unified social credit code / tax id, printed on invoices
    payee_bank: str = "招商银行上海分行 China Merchants Bank, Shanghai Branch"
    payee_account: str = "1219 0000 0000 0000"

    def __post_init__(self) -> None:
        if self.env not in ENVIRONMENTS:
            raise SettingsError(f"BRANDHUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.env == "production" and (not self.secret_key or self.secret_key == DEV_SECRET_KEY):
            raise SettingsError("BRANDHUB_SECRET_KEY must be set to a random secret outside development")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{Path(self.instance_path) / 'brandhub.sqlite'}")
        check_bounds(self)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from ``BRANDHUB_*`` variables; ``overrides`` win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in dataclasses.fields(cls):
            raw = environ.get(f"BRANDHUB_{f.name.upper()}")
            if raw is None:
                continue
            values[f.name] = _convert(f, raw)
        values.update(overrides)
        if "instance_path" in values:
            values["instance_path"] = Path(values["instance_path"])  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def replace(self, **changes) -> "Settings":
        return dataclasses.replace(self, **changes)


# Numeric settings and the range that makes sense (inclusive; None: no upper bound). A value outside is
# refused at start with the variable's name, rather than e.g. invoices falling due before they are issued.
BOUNDS: dict[str, tuple[float, float | None]] = {
    "invoice_due_days": (1, 365),
    "revenue_report_due_day": (1, 28),
    "pdf_workers": (0, 256),
    "login_max_failures": (1, None),
    "login_lockout_minutes": (1, None),
    "collect_interval_seconds": (1, None),
    "collect_jitter_seconds": (0, None),
    "collect_workers": (1, 1024),
    "collect_timeout_seconds": (0.001, None),
    "collect_retries": (0, 100),
    "collect_page_limit": (1, 100000),
    "collect_lease_seconds": (1, None),
    "collect_backoff_seconds": (0, None),
    "config_drift_grace_minutes": (0, None),
    "score_workers": (1, 256),
    "smtp_port": (1, 65535),
    "smtp_timeout_seconds": (0.001, None),
    "outbox_claim_minutes": (1, None),
    "flag_ack_hours": (1, None),
    "flag_escalation_hours": (1, None),
    "renewal_window_days": (1, 1095),
}


def check_bounds(settings: object) -> None:
    """Refuse a numeric setting outside its range, naming the variable, the value and the range."""
    for name, (low, high) in BOUNDS.items():
        value = getattr(settings, name, None)
        if value is None or isinstance(value, bool) or not isinstance(value, (int, float)):
            continue
        if value != value or value < low or (high is not None and value > high):  # value != value: NaN
            allowed = f"from {low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise SettingsError(f"BRANDHUB_{name.upper()} must be {allowed}, not {value!r}")


def _convert(f: dataclasses.Field, raw: str) -> object:
    kind = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", str(f.type))
    try:
        if kind == "bool":
            return _bool(raw)
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
        if kind == "Path":
            return Path(raw)
    except ValueError as exc:
        raise SettingsError(f"BRANDHUB_{f.name.upper()}: {exc}") from exc
    return raw
