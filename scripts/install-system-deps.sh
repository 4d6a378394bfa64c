#!/usr/bin/env bash
# Debian packages the test suite needs (real backends). Idempotent; needs root (as CI and dev boxes here are).
set -euo pipefail
# With no arguments: everything the test suite uses.
#   prometheus, prometheus-node-exporter: a real remote-write backend and scrape target
#   chromium: headless browser for the web UI tests (driven by Playwright with executable_path)
if [ $# -gt 0 ]; then
  packages=("$@")
else
  packages=(prometheus prometheus-node-exporter chromium)
fi
if [ "$(id -u)" != 0 ]; then
  echo "install-system-deps: not root; skipping apt-get (tests that need ${packages[*]} will skip)" >&2
  exit 0
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
