#!/usr/bin/env bash
# A headless Chromium for the dashboard test (driven by the `playwright` package through
# `executable_path`; Playwright's own browser download is not used).
set -euo pipefail
if [ -n "${WFMON_TEST_CHROMIUM:-}" ] && [ -x "${WFMON_TEST_CHROMIUM}" ]; then
  exit 0
fi
for candidate in chromium chromium-browser; do
  if command -v "$candidate" >/dev/null 2>&1; then
    exit 0
  fi
done
echo "Installing Chromium (apt-get)..."
export DEBIAN_FRONTEND=noninteractive
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium fonts-liberation >/dev/null
