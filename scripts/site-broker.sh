#!/usr/bin/env bash
# On a site machine: install the project's Mosquitto config with this site's logins and ACL,
# then restart the broker. Usage: scripts/site-broker.sh SH-JA-01 [readings-per-minute]
# Prints the agent's and the sensors' passwords once (put the agent's in BRANDHUB_MQTT_PASSWORD).
# Development and CI machines do not run this: their broker stays the anonymous one .ci/run starts.
set -euo pipefail
cd "$(dirname "$0")/.."
site="${1:?usage: scripts/site-broker.sh SITE_CODE [readings-per-minute]}"
rate="${2:-200}"
SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
.venv/bin/python -m site_agent.broker --site "$site" --out "$work" --rate "$rate" > "$work/logins"
[ -f /etc/mosquitto/mosquitto.conf ] && $SUDO cp /etc/mosquitto/mosquitto.conf "/etc/mosquitto/mosquitto.conf.before-brandhub"
$SUDO install -m 0644 "$work/mosquitto.conf" /etc/mosquitto/mosquitto.conf
$SUDO install -m 0644 "$work/brandhub.acl" /etc/mosquitto/brandhub.acl
$SUDO install -m 0600 -o mosquitto "$work/brandhub.passwd" /etc/mosquitto/brandhub.passwd 2>/dev/null \
  || $SUDO install -m 0600 "$work/brandhub.passwd" /etc/mosquitto/brandhub.passwd
$SUDO mkdir -p /var/lib/mosquitto /run/mosquitto
if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
  $SUDO systemctl restart mosquitto
else
  [ -f /run/mosquitto/mosquitto.pid ] && $SUDO kill "$(cat /run/mosquitto/mosquitto.pid)" 2>/dev/null || true
  sleep 1
  $SUDO mosquitto -d -c /etc/mosquitto/mosquitto.conf
fi
echo "site-broker: installed for $site (queue limit sized for $rate readings/min for a day); logins:"
cat "$work/logins"
