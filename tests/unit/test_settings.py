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
