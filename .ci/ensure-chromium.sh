#!/usr/bin/env bash
# Headless Chromium renders the HTML report in tests/decisions/test_report.py; install Debian's package when
# it is missing (CI runs as root on Debian; elsewhere this needs sudo or a preinstalled chromium).
set -euo pipefail
if command -v chromium >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends chromium >/dev/null
command -v chromium
