#!/usr/bin/env bash
# Installs what the browser tests (tests/browser, Playwright) drive: Debian's Chromium, and a
# Chinese font so that the screenshots in test-artifacts/ are readable. Playwright's own browser
# download cannot work on closed networks (nor in CI here), so the tests launch the
# distribution's /usr/bin/chromium (or $CHROMIUM_PATH). Idempotent; needs root or sudo.
set -euo pipefail
CHROMIUM="${CHROMIUM_PATH:-/usr/bin/chromium}"
packages=()
[ -x "$CHROMIUM" ] || packages+=(chromium)
if ! (command -v fc-list >/dev/null && [ -n "$(fc-list :lang=zh 2>/dev/null)" ]); then
    packages+=(fonts-wqy-zenhei)
fi
[ ${#packages[@]} -eq 0 ] && exit 0
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq "${packages[@]}" >/dev/null
"$CHROMIUM" --version
