#!/usr/bin/env bash
# Set up Brand Hub on a fresh Debian machine: system packages, a virtualenv, the
# Python packages, compiled translations. Safe to run again: it only does what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

# System packages: a CJK font so invoices show Chinese names, Pango for WeasyPrint,
# Chromium for the browser tests, poppler for reading PDFs back, the MQTT broker.
APT_PACKAGES=(fonts-noto-cjk libpango-1.0-0 libpangoft2-1.0-0 libharfbuzz-subset0 chromium poppler-utils mosquitto)
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing system packages: ${missing[*]}"
  SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  echo "setup: creating .venv"
  "$PYTHON" -m venv .venv
fi
stamp=.venv/.brandhub-installed
if [ ! -f "$stamp" ] || [ pyproject.toml -nt "$stamp" ]; then
  echo "setup: installing Python packages"
  .venv/bin/pip install -q --upgrade pip
  .venv/bin/pip install -q -e ".[test]"
  touch "$stamp"
fi
.venv/bin/python brand_hub/web/catalogs.py   # the .mo catalogs: compiled here and in the build, never at start-up
# The site broker: the project's Mosquitto config (site_agent/broker/mosquitto.conf). On a site
# machine (BRANDHUB_SITE_BROKER=<site code>) it is installed with the site's logins; development
# and CI machines keep their anonymous local broker (.ci/run), and the tests start private brokers
# from the project's config.
if [ -n "${BRANDHUB_SITE_BROKER:-}" ]; then
  ./scripts/site-broker.sh "$BRANDHUB_SITE_BROKER" "${BRANDHUB_SITE_READINGS_PER_MINUTE:-200}"
fi
echo "setup: ready"
