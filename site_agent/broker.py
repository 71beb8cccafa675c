"""The site broker the project ships: its config file, the site's logins and ACL, and its sizing.

``site_agent/broker/mosquitto.conf`` is the config; ``render`` gives a copy with this
machine's port, paths and limits (a site install, or a test's private broker), changing
only the lines it names. ``python -m site_agent.broker --site SH-JA-01 --out DIR`` writes
the config, the ACL and the password file for one site (``scripts/site-broker.sh``).
"""
from __future__ import annotations

import argparse
import math
import secrets
import shutil
import subprocess
from pathlib import Path

CONFIG = Path(__file__).resolve().parent / "broker" / "mosquitto.conf"


def queue_limit(readings_per_minute: float, outage_hours: float = 24, headroom: float = 1.25) -> int:
    """``max_queued_messages`` that holds ``outage_hours`` of a site's readings for a stopped agent."""
    if readings_per_minute <= 0 or outage_hours <= 0:
        raise ValueError("readings_per_minute and outage_hours must be positive")
    return math.ceil(readings_per_minute * 60 * outage_hours * headroom)


def render(*, port: int | None = None, bind: str | None = None, data_dir: str | Path | None = None,
           password_file: str | Path | None = None, acl_file: str | Path | None = None,
           max_queued: int | None = None, sys_interval: int | None = None, pid_file: str | Path | None = None,
           anonymous: bool | None = None, user: str | None = None) -> str:
    """The shipped config with the named settings replaced (``None`` keeps the shipped line)."""
    values: dict[str, str] = {}
    if port is not None or bind is not None:
        values["listener"] = f"{port or 1883} {bind or '0.0.0.0'}"
    if data_dir is not None:
        values["persistence_location"] = f"{Path(data_dir)}/"
    if password_file is not None:
        values["password_file"] = str(password_file)
    if acl_file is not None:
        values["acl_file"] = str(acl_file)
    if max_queued is not None:
        values["max_queued_messages"] = str(max_queued)
    if sys_interval is not None:
        values["sys_interval"] = str(sys_interval)
    if pid_file is not None:
        values["pid_file"] = str(pid_file)
    if user is not None:
        values["user"] = user
    if anonymous is not None:
        values["allow_anonymous"] = "true" if anonymous else "false"
    lines = []
    for line in CONFIG.read_text(encoding="utf-8").splitlines():
        key = line.split(" ", 1)[0]
        if key in values and not line.startswith("#"):
            line = f"{key} {values[key]}"
        lines.append(line)
    return "\n".join(lines) + "\n"


def agent_login(site_code: str) -> str:
    return f"agent-{site_code}"


def sensors_login(site_code: str) -> str:
    return f"sensors-{site_code}"


def acl(site_code: str) -> str:
    """The ACL of one site: its agent reads its topics (and the drop counter), its sensors write them."""
    return (f"# Brand Hub site {site_code}\n"
            f"user {agent_login(site_code)}\n"
            f"topic read brandhub/{site_code}/#\n"
            f"topic write brandhub/{site_code}/_agent/#\n"
            "topic read $SYS/broker/publish/messages/dropped\n\n"
            f"user {sensors_login(site_code)}\n"
            f"topic write brandhub/{site_code}/#\n")


def write_passwords(path: str | Path, logins: dict[str, str]) -> None:
    """A Mosquitto password file (hashed by ``mosquitto_passwd``) for ``login → password``."""
    tool = shutil.which("mosquitto_passwd")
    if tool is None:
        raise RuntimeError("mosquitto_passwd not found: install the mosquitto package (scripts/setup.sh)")
    path = Path(path)
    path.write_text("")
    for login, password in logins.items():
        subprocess.run([tool, "-b", str(path), login, password], check=True, capture_output=True)
    path.chmod(0o600)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the site broker's config, ACL and logins.")
    parser.add_argument("--site", required=True, help="the site's code, e.g. SH-JA-01")
    parser.add_argument("--out", required=True, help="folder for mosquitto.conf, brandhub.acl, brandhub.passwd")
    parser.add_argument("--rate", type=float, default=200, help="the site's readings per minute (sizing)")
    args = parser.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logins = {agent_login(args.site): secrets.token_urlsafe(18), sensors_login(args.site): secrets.token_urlsafe(18)}
    (out / "brandhub.acl").write_text(acl(args.site))
    write_passwords(out / "brandhub.passwd", logins)
    (out / "mosquitto.conf").write_text(render(password_file="/etc/mosquitto/brandhub.passwd",
                                               acl_file="/etc/mosquitto/brandhub.acl",
                                               max_queued=max(queue_limit(args.rate), 1000)))
    for login, password in logins.items():
        print(f"{login} {password}")


if __name__ == "__main__":
    main()
