"""The agent's config file is type-checked through its JSON Schema, like the hub's file formats."""
from __future__ import annotations

import pytest

from site_agent.config import AgentConfigError, load_config


def _load(tmp_path, text: str, environ=None):
    path = tmp_path / "agent.yaml"
    path.write_text(text, encoding="utf-8")
    return load_config(path, environ or {})


def test_a_port_that_is_not_a_number_is_refused_at_its_line(tmp_path):
    with pytest.raises(AgentConfigError, match=r"agent.yaml:3: port: expected integer, got str 'x'"):
        _load(tmp_path, "site_code: SH-01\ntoken: t\nport: \"x\"\n")


def test_an_unknown_key_and_a_missing_site_code_are_refused(tmp_path):
    with pytest.raises(AgentConfigError, match="unknown field 'colour'"):
        _load(tmp_path, "site_code: SH-01\ncolour: red\n")
    with pytest.raises(AgentConfigError, match="'site_code' is missing"):
        _load(tmp_path, "port: 8711\n")


def test_a_valid_file_reads_its_token_from_the_named_variable_and_its_buffer_beside_it(tmp_path):
    config = _load(tmp_path, "site_code: SH-01\ntoken_env: TOK\nport: 0\nbuffer_path: b.sqlite\n", {"TOK": "abc"})
    assert (config.token, config.port, config.buffer_path) == ("abc", 0, str(tmp_path / "b.sqlite"))
