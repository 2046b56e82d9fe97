#!/usr/bin/env bash
# Install everything the tests need, then run ruff and the whole suite.
#   bash scripts/test.sh [pytest args]
# Installs: the project with its test and prod extras (pip); Debian's chromium, fonts-noto-cjk and nginx
# (the production setup's front, tests/serving) (apt, when
# missing and apt is usable). Never downloads a browser of its own: Playwright drives /usr/bin/chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

python3 -m pip install --quiet --disable-pip-version-check -e ".[test,prod]"

need_apt=()
command -v chromium >/dev/null 2>&1 || need_apt+=(chromium)
dpkg -s fonts-noto-cjk >/dev/null 2>&1 || need_apt+=(fonts-noto-cjk)
dpkg -s nginx >/dev/null 2>&1 || need_apt+=(nginx)
if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing with apt: ${need_apt[*]}"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    sudo apt-get update -qq && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need_apt[@]}" >/dev/null
  else
    echo "note: cannot install ${need_apt[*]} (no root/apt); browser tests will skip (they fail under CI=true)"
  fi
fi

python3 -m ruff check .
python3 -m pytest "$@"
