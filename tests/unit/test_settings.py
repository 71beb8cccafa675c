"""Settings come from BRANDHUB_* variables; production refuses to run with the development secret."""
from __future__ import annotations

from pathlib import Path

import pytest

from brand_hub.settings import DEV_SECRET_KEY, Settings, SettingsError


def test_settings_are_read_from_brandhub_variables():
    settings = Settings.from_env({"BRANDHUB_LOCALE": "en", "BRANDHUB_LOGIN_MAX_FAILURES": "7",
                                  "BRANDHUB_INSTANCE_PATH": "/srv/hub", "BRANDHUB_AGENT_TLS_VERIFY": "no"})
    assert (settings.locale, settings.login_max_failures, settings.agent_tls_verify) == ("en", 7, False)
    assert settings.database_url == f"sqlite:///{Path('/srv/hub') / 'brandhub.sqlite'}"


def test_production_refuses_the_development_secret_key():
    with pytest.raises(SettingsError, match="BRANDHUB_SECRET_KEY"):
        Settings.from_env({"BRANDHUB_ENV": "production"})
    with pytest.raises(SettingsError, match="BRANDHUB_SECRET_KEY"):
        Settings.from_env({"BRANDHUB_ENV": "production", "BRANDHUB_SECRET_KEY": DEV_SECRET_KEY})
    assert Settings.from_env({"BRANDHUB_ENV": "production", "BRANDHUB_SECRET_KEY": "s3cret-" * 8}).is_production


def test_a_bad_value_names_its_variable():
    with pytest.raises(SettingsError, match="BRANDHUB_LOGIN_MAX_FAILURES"):
        Settings.from_env({"BRANDHUB_LOGIN_MAX_FAILURES": "lots"})
    with pytest.raises(SettingsError, match="BRANDHUB_ENV"):
        Settings.from_env({"BRANDHUB_ENV": "staging"})


def test_production_cookies_are_secure_and_http_only(tmp_path):
    from brand_hub import create_app

    app = create_app(Settings(env="production", secret_key="x" * 40, instance_path=tmp_path,
                              database_url=f"sqlite:///{tmp_path / 'hub.sqlite'}"))
    assert app.config["SESSION_COOKIE_SECURE"] and app.config["SESSION_COOKIE_HTTPONLY"]
    assert app.config["REMEMBER_COOKIE_SECURE"]
    app.extensions["brandhub.engine"].dispose()


@pytest.mark.parametrize("variable, value, message", [
    ("BRANDHUB_INVOICE_DUE_DAYS", "-5", "BRANDHUB_INVOICE_DUE_DAYS must be from 1 to 365, not -5"),
    ("BRANDHUB_INVOICE_DUE_DAYS", "0", "BRANDHUB_INVOICE_DUE_DAYS must be from 1 to 365, not 0"),
    ("BRANDHUB_REVENUE_REPORT_DUE_DAY", "31", "BRANDHUB_REVENUE_REPORT_DUE_DAY must be from 1 to 28, not 31"),
    ("BRANDHUB_PDF_WORKERS", "-1", "BRANDHUB_PDF_WORKERS must be from 0 to 256"),
    ("BRANDHUB_LOGIN_MAX_FAILURES", "0", "BRANDHUB_LOGIN_MAX_FAILURES must be at least 1, not 0"),
    ("BRANDHUB_COLLECT_TIMEOUT_SECONDS", "nan", "BRANDHUB_COLLECT_TIMEOUT_SECONDS must be at least 0.001"),
    ("BRANDHUB_SMTP_PORT", "70000", "BRANDHUB_SMTP_PORT must be from 1 to 65535"),
])
def test_a_numeric_setting_outside_its_range_is_refused_at_start_naming_it(variable, value, message):
    with pytest.raises(SettingsError) as refused:
        Settings.from_env({variable: value})
    assert str(refused.value).startswith(message)


def test_the_edges_of_each_range_are_accepted():
    settings = Settings.from_env({"BRANDHUB_INVOICE_DUE_DAYS": "1", "BRANDHUB_PDF_WORKERS": "0",
                                  "BRANDHUB_COLLECT_RETRIES": "0", "BRANDHUB_REVENUE_REPORT_DUE_DAY": "28"})
    assert (settings.invoice_due_days, settings.pdf_workers, settings.collect_retries) == (1, 0, 0)
