#!/usr/bin/env bash
# Debian packages the test suite needs (real backends). Idempotent; needs root (as CI and dev boxes here are).
set -euo pipefail
packages=()
for pkg in "$@"; do packages+=("$pkg"); done
if [ ${#packages[@]} -eq 0 ]; then
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
