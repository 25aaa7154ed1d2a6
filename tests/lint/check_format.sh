#!/usr/bin/env bash
# clang-format over our own C++ (.clang-format at the repo root; clang-format 14).
#
#   bash tests/lint/check_format.sh [--fix] [ROOT]
#     default   check: `clang-format --dry-run --Werror`, lists every file that needs formatting
#     --fix     rewrite the files in place (the `format` build target runs this)
#
# Files: the *.h/*.hh/*.hpp/*.cc/*.cpp that git knows (tracked, or new and not ignored), so build
# trees and generated protobuf code (*.pb.h/*.pb.cc, only ever under build*/) are never touched.
# Without git (an exported tarball) it falls back to find over the source folders.
# CLANG_FORMAT overrides the binary. Exit 77 (a ctest skip) when no clang-format is installed.
set -euo pipefail

fix=0
if [[ ${1:-} == --fix ]]; then fix=1; shift; fi
root="${1:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
cd "$root"

cf="${CLANG_FORMAT:-}"
[[ $cf == *-NOTFOUND ]] && cf=""   # CMake's find_program found none
if [[ -z $cf ]]; then
  cf="$(command -v clang-format-14 || command -v clang-format || true)"
fi
if [[ -z $cf ]]; then
  echo "check_format: no clang-format found (bash deploy/install-deps.sh installs it)" >&2
  exit 77
fi

if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  mapfile -t files < <(git ls-files --cached --others --exclude-standard -- \
      '*.h' '*.hh' '*.hpp' '*.cc' '*.cpp' | LC_ALL=C sort -u)
else
  mapfile -t files < <(find engine rules connectors tests -type f \
      \( -name '*.h' -o -name '*.hh' -o -name '*.hpp' -o -name '*.cc' -o -name '*.cpp' \) \
      2>/dev/null | LC_ALL=C sort)
fi
# Generated code and files deleted in the work tree but still in the index are not ours to format.
existing=()
for f in "${files[@]}"; do
  [[ -f $f && $f != *.pb.h && $f != *.pb.cc && $f != build*/* ]] && existing+=("$f")
done
if ((${#existing[@]} == 0)); then
  echo "check_format: no C++ files"
  exit 0
fi

if ((fix)); then
  "$cf" -i --style=file "${existing[@]}"
  echo "check_format: formatted ${#existing[@]} files with $("$cf" --version | grep -o 'version [0-9.]*')"
  exit 0
fi

bad=()
for f in "${existing[@]}"; do
  if ! msg="$("$cf" --dry-run --Werror --style=file "$f" 2>&1)"; then
    bad+=("$f")
    # The first place that differs, as clang-format reports it: file:line:col: error: ...
    grep -m1 -E '^[^ ]+:[0-9]+:[0-9]+: (error|warning):' <<<"$msg" || echo "$f: needs formatting"
  fi
done
if ((${#bad[@]})); then
  echo "check_format: ${#bad[@]} of ${#existing[@]} files need formatting; run: cmake --build --preset release --target format"
  exit 1
fi
echo "check_format: ${#existing[@]} files formatted"
