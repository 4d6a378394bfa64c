#!/usr/bin/env bash
# Debian packages the test suite needs (real backends, a browser, systemd-analyze). Idempotent, and
# quick when everything is installed (one dpkg query per package, no apt-get).
#
#   bash scripts/install-system-deps.sh                 # everything; as root, fails if apt-get fails (CI)
#   bash scripts/install-system-deps.sh --best-effort   # what `make test` runs: installs when it can
#                                                       # (root, or passwordless sudo), else says which
#                                                       # tests will skip and carries on
#   bash scripts/install-system-deps.sh PKG...          # just these
#
# With no package arguments: everything the test suite uses.
#   prometheus, prometheus-node-exporter: a real remote-write backend and scrape target
#   chromium: headless browser for the web UI tests (driven by Playwright with executable_path)
#   systemd: systemd-analyze, which verifies deploy/collector.service
set -euo pipefail
best_effort=0
if [ "${1:-}" = "--best-effort" ]; then
  best_effort=1
  shift
fi
if [ $# -gt 0 ]; then
  packages=("$@")
else
  packages=(prometheus prometheus-node-exporter chromium systemd)
fi
missing=()
for pkg in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" = 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "install-system-deps: not root and no passwordless sudo: cannot install ${missing[*]};" \
       "the tests that need them will be SKIPPED (run this script as root to run them)" >&2
  exit 0
fi
echo "install-system-deps: installing ${missing[*]}" >&2
if ! { "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq &&
       "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"; }; then
  echo "install-system-deps: apt-get could not install ${missing[*]}; the tests that need them will be SKIPPED" >&2
  [ $best_effort = 1 ] && exit 0
  exit 1
fi
