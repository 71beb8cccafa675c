"""``brandhub agent``: the site agent, run on a site's premises."""
from __future__ import annotations

import logging
import signal
from pathlib import Path

import click

from site_agent.config import AgentConfigError, load_config


@click.group()
def agent() -> None:
    """The site agent: intake, edge buffer, pull API and survey page."""


def _config(path: str):
    try:
        return load_config(path)
    except AgentConfigError as exc:
        raise click.ClickException(str(exc)) from exc


@agent.command("run")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="agent YAML file")
def agent_run(config_path: str) -> None:
    """Run the agent until SIGTERM or Ctrl-C."""
    from site_agent import runner

    config = _config(config_path)
    if not config.token:
        raise click.ClickException(f"{config_path}: token or token_env is required (the hub pulls with it)")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        running = runner.start(config)
    except OSError as exc:
        raise click.ClickException(f"cannot listen on {config.host}:{config.port}: {exc.strerror}") from exc
    signal.signal(signal.SIGTERM, lambda *_: running._stop.set())
    click.echo(f"site agent {config.site_code} on {running.url} (buffer {config.buffer_path})")
    try:
        running.wait()
    except KeyboardInterrupt:
        pass
    finally:
        running.stop()


@agent.command("import")
@click.option("--config", "config_path", required=True, type=click.Path(dir_okay=False), help="agent YAML file")
@click.option("--kind", type=click.Choice(["readings", "nps"]), required=True)
@click.option("--zone", default="main", show_default=True, help="zone of a sensor log")
@click.option("--language", default="zh_CN", show_default=True, help="language of a survey export")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
def agent_import(config_path: str, kind: str, zone: str, language: str, files: tuple[str, ...]) -> None:
    """Import sensor logs or survey-tool NPS exports (CSV) into the agent's buffer."""
    from site_agent.agent import Agent
    from site_agent.csv_import import import_nps, import_readings

    the_agent = Agent(_config(config_path))
    try:
        for name in files:
            path = Path(name)
            report = (import_readings(the_agent, path, zone) if kind == "readings"
                      else import_nps(the_agent, path, language))
            for problem in report.problems[:20]:
                click.echo(str(problem), err=True)
            if len(report.problems) > 20:
                click.echo(f"… and {len(report.problems) - 20} more problem(s)", err=True)
            click.echo(f"{path.name}: {report.accepted} accepted, {len(report.problems)} refused")
    finally:
        the_agent.close()
