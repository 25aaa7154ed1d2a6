#!/usr/bin/env bash
# serve.openapi: the OpenAPI 3 document `samordna serve` publishes at GET /openapi.json (the same
# text `samordna serve --openapi` prints) passes openapi-spec-validator, installed from PyPI into a
# cached venv (a first run needs the package registry; without it the test skips, exit 77).
# Usage: openapi.sh SAMORDNA
set -euo pipefail
samordna=$1
venv=${SAMORDNA_OPENAPI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/samordna/openapi-venv}
if [[ ! -x $venv/bin/openapi-spec-validator ]]; then
  rm -rf "$venv"
  if ! python3 -m venv "$venv" >/dev/null 2>&1 ||
     ! "$venv/bin/pip" install -q 'openapi-spec-validator>=0.7,<0.8' >"${venv}.log" 2>&1; then
    echo "serve.openapi: skipped: cannot install openapi-spec-validator (see ${venv}.log)"
    rm -rf "$venv"
    exit 77
  fi
fi
doc=$(mktemp --suffix .json)
trap 'rm -f "$doc" "$doc.broken"' EXIT
"$samordna" serve --openapi >"$doc"
"$venv/bin/openapi-spec-validator" "$doc"
# The validator must catch a broken document: a path parameter that is not declared.
python3 - "$doc" <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
d["paths"]["/api/v1/episodes/{id}"]["get"]["parameters"] = []
json.dump(d, open(sys.argv[1] + ".broken", "w"))
PY
if "$venv/bin/openapi-spec-validator" "$doc.broken" >/dev/null 2>&1; then
  echo "serve.openapi: FAIL: the validator accepted a document with an undeclared path parameter"
  exit 1
fi
echo "serve.openapi: the document is valid OpenAPI 3; a broken copy is refused"
