#!/usr/bin/env bash
# Install Debian's Chromium for the browser tests, unless it is already there. Playwright never
# downloads a browser of its own here: the tests launch this one.
set -euo pipefail

if command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
  as_root=(sudo -n)
else
  echo "Chromium is needed for the browser tests and is not installed." >&2
  echo "Install it once with: sudo apt-get install -y chromium   (then run make test again)" >&2
  exit 1
fi
echo "Installing Debian's chromium for the browser tests…"
"${as_root[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${as_root[@]}" apt-get install -y -qq chromium >/dev/null
