#!/usr/bin/env bash
# Run the whole test suite (after setting up what it needs). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
mkdir -p test-artifacts
exec .venv/bin/python -m pytest -n "${BRANDHUB_TEST_WORKERS:-2}" "$@"
