#!/usr/bin/env bash
# The web app's browser tests (tests/integration/web/): playwright-core and axe-core from the npm
# registry into tests/web/node_modules, at the versions tests/web/package-lock.json pins. The
# browser is Debian's chromium (deploy/install-deps.sh); playwright-core downloads no browser
# (and install scripts are not run).
#
# Idempotent: a no-op (no network) when node_modules already holds what the lock file pins.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dir="$repo/tests/web"

command -v npm >/dev/null 2>&1 || { echo "install-web-test-deps: npm missing (deploy/install-deps.sh)" >&2; exit 1; }
# npm ci writes node_modules/.package-lock.json; equal to the lock file's packages = done.
if [[ -f $dir/node_modules/.package-lock.json ]] && [[ -d $dir/node_modules/playwright-core ]] &&
   [[ -d $dir/node_modules/axe-core ]] &&
   python3 - "$dir/package-lock.json" "$dir/node_modules/.package-lock.json" <<'PY'
import json, sys
want = json.load(open(sys.argv[1]))["packages"]
have = json.load(open(sys.argv[2]))["packages"]
sys.exit(0 if all(have.get(k, {}).get("version") == v.get("version") for k, v in want.items() if k) else 1)
PY
then
  echo "install-web-test-deps: playwright-core and axe-core present"
  exit 0
fi
echo "install-web-test-deps: npm ci in tests/web"
(cd "$dir" && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error)
