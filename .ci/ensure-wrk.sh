#!/usr/bin/env bash
# wrk, the C load generator, drives the booking benchmark (benchmarks/bench_service.py): a Python client tops out
# near 250 requests per second on one core, below what the server can take. Debian's package, when missing.
set -euo pipefail
if command -v wrk >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
if [ "$(id -u)" != "0" ]; then SUDO="sudo"; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends wrk >/dev/null
command -v wrk
