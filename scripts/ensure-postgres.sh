#!/usr/bin/env bash
# PostgreSQL server binaries for the test suite, which starts its own server.
set -euo pipefail
if ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1; then
  exit 0
fi
if [ -n "${WFMON_TEST_POSTGRES_URL:-}" ]; then
  exit 0
fi
echo "Installing PostgreSQL server binaries (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq postgresql >/dev/null
