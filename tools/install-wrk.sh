#!/usr/bin/env bash
# Installs wrk, the HTTP load generator that bench/load.py drives against gunicorn on 127.0.0.1
#. Debian's package (wrk 4.1.0, with LuaJIT) is used: wrk has no wheel on
# PyPI and nothing may be downloaded from elsewhere. Idempotent; needs root or sudo.
set -euo pipefail
WRK="${WRK_PATH:-wrk}"
if command -v "$WRK" >/dev/null 2>&1; then
    exit 0
fi
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq wrk >/dev/null
# `wrk -v` prints the version on its first line (then the usage, and exits 1).
wrk -v 2>&1 | head -n 1 || true
