"""One settings object for the hub, read from ``BRANDHUB_*`` environment variables.

Every entry point (web app, CLI command, scheduler process, test) builds a
``Settings`` and hands it down; nothing reads the environment anywhere else.
The fields are typed and checked by pydantic-settings: ``Settings(...)`` takes only
what it is given, ``Settings.from_env()`` reads ``BRANDHUB_<FIELD>`` for the rest.
A refused value is a ``SettingsError`` that names its variable.
"""
from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, EnvSettingsSource, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-not-secret"
ENVIRONMENTS = ("development", "testing", "production")
MIN_SECRET_LENGTH = 32  # a production secret key shorter than this is refused


class SettingsError(ValueError):
    """The environment describes settings the hub refuses to run with."""


class Settings(BaseSettings):
    """Everything the hub can be configured with. Field ``x`` comes from ``BRANDHUB_X``."""

    model_config = SettingsConfigDict(env_prefix="BRANDHUB_", frozen=True, extra="forbid")

    env: str = "development"
    instance_path: Path = Field(default_factory=lambda: Path.cwd() / "instance")
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

    # readings kept (months before the current one; older partitions are dropped whole on PostgreSQL)
    readings_retention_months: int = 13  # 15-minute buckets: a year back, and the same month a year ago
    readings_hourly_retention_months: int = 37  # the hourly rollup: three years back, and that month before
    readings_daily_retention_months: int = 0  # the daily rollup; 0: kept for good
    readings_partitions_ahead_months: int = 3  # monthly partitions made this far ahead (PostgreSQL)

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

    # server-side sessions and sign-in throttling (login_max_failures: free tries before the delay starts,
    # login_lockout_minutes: the longest delay)
    session_idle_minutes: int = 60  # a session unused this long ends
    session_absolute_hours: int = 12  # a session this old ends however busy it is
    login_delay_seconds: int = 2  # the first wait after the free tries; doubles with each further failure
    login_address_max_failures: int = 20  # free failures from one client address (offices share one)
    proxy_hops: int = 0  # proxies in front that set X-Forwarded-For (nginx: 1), so the client address is the real one

    def __init__(self, **values: Any) -> None:
        try:
            super().__init__(**values)
        except ValidationError as exc:
            raise SettingsError(_describe(exc)) from None

    @classmethod
    def settings_customise_sources(cls, settings_cls, init_settings, env_settings, dotenv_settings,
                                   file_secret_settings):
        """``Settings(...)`` takes only its arguments; ``from_env`` adds the environment explicitly."""
        return (init_settings,)

    @field_validator("*", mode="before")
    @classmethod
    def _blank_is_false(cls, value: Any, info) -> Any:
        """An empty boolean variable (``BRANDHUB_SMTP_SSL=``) means off, as it always did."""
        if value == "" and cls.model_fields[info.field_name].annotation in (bool, "bool"):
            return False
        return value

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        if self.env not in ENVIRONMENTS:
            raise ValueError(f"BRANDHUB_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.env == "production" and (not self.secret_key or self.secret_key == DEV_SECRET_KEY):
            raise ValueError("BRANDHUB_SECRET_KEY must be set to a random secret outside development")
        if self.env == "production" and len(self.secret_key) < MIN_SECRET_LENGTH:
            raise ValueError(f"BRANDHUB_SECRET_KEY is too short for production: at least {MIN_SECRET_LENGTH} "
                             "random characters")
        if not self.database_url:
            object.__setattr__(self, "database_url", f"sqlite:///{Path(self.instance_path) / 'brandhub.sqlite'}")
        check_bounds(self)
        return self

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides) -> "Settings":
        """Build settings from ``BRANDHUB_*`` variables; ``overrides`` win over the environment."""
        environ = os.environ if environ is None else environ
        values: dict[str, object] = dict(_Environment(cls, environ)())
        values.update(overrides)
        return cls(**values)

    def replace(self, **changes) -> "Settings":
        """A copy with ``changes``, checked like any other settings."""
        return type(self)(**{**self.model_dump(), **changes})


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
    "readings_retention_months": (3, 1200),  # scoring rereads the running quarter at least
    "readings_hourly_retention_months": (3, 1200),
    "readings_daily_retention_months": (0, 1200),
    "readings_partitions_ahead_months": (1, 24),
    "smtp_port": (1, 65535),
    "smtp_timeout_seconds": (0.001, None),
    "outbox_claim_minutes": (1, None),
    "flag_ack_hours": (1, None),
    "flag_escalation_hours": (1, None),
    "session_idle_minutes": (1, None),
    "session_absolute_hours": (1, None),
    "login_delay_seconds": (0, 3600),
    "login_address_max_failures": (1, None),
    "proxy_hops": (0, 10),
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


class _Environment(EnvSettingsSource):
    """pydantic-settings' reading of ``BRANDHUB_*`` variables, from a given mapping (the process's by default)."""

    def __init__(self, settings_cls: type[BaseSettings], environ: Mapping[str, str]):
        self._environ = environ
        super().__init__(settings_cls)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return {key.lower(): value for key, value in self._environ.items()}


def _describe(exc: ValidationError) -> str:
    """Each refused value as ``BRANDHUB_<FIELD>: reason`` (a whole-settings check says its own variable)."""
    lines = []
    for error in exc.errors():
        reason = str(error["msg"]).removeprefix("Value error, ")
        where = [str(part) for part in error["loc"]]
        lines.append(f"BRANDHUB_{where[0].upper()}: {reason}" if where else reason)
    return "; ".join(lines)
