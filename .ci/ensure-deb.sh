#!/usr/bin/env bash
# Install a Debian package when its command is missing: `ensure-deb.sh COMMAND [PACKAGE]` (PACKAGE defaults to
# COMMAND). Used for headless Chromium, which renders the HTML report in tests/decisions/test_report.py, and
# for wrk, which loads the booking service in benchmarks/bench_service.py. CI runs as root on Debian; elsewhere
# this needs sudo or the package preinstalled.
set -euo pipefail
command="$1"
package="${2:-$1}"
if command -v "$command" >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$package" >/dev/null
command -v "$command"
