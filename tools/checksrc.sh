#!/usr/bin/env bash
# tools/checksrc.sh - reject banned calls in the library (src/): raw allocation outside
# base_alloc.c, printing, exiting/aborting, and unsafe string functions (STYLE.md §8).
set -uo pipefail
cd "$(dirname "$0")/.."
bad=0
check() { # pattern, description, files...
  local pat=$1 what=$2; shift 2
  local hits
  hits=$(grep -nE "$pat" "$@" 2>/dev/null | grep -v 'checksrc:allow' || true)
  if [ -n "$hits" ]; then echo "checksrc: $what:"; echo "$hits"; bad=1; fi
}
mapfile -t files < <(find src -name '*.c' -o -name '*.h' | sort)
[ ${#files[@]} -eq 0 ] && exit 0
mapfile -t noalloc < <(printf '%s\n' "${files[@]}" | grep -v 'src/base/base_alloc.c')
strip() { sed -E 's://.*$::' "$@"; }
check '(^|[^_a-z.>])(malloc|calloc|realloc|free)\(' "raw allocation (use fl_malloc/fl_free)" "${noalloc[@]}"
check '(^|[^_a-z])(printf|puts|putchar|perror)\(|fprintf\((stderr|stdout)' "printing from the library" "${files[@]}"
check '(^|[^_a-z])(exit|abort|_Exit)\(' "exit/abort in the library" "${files[@]}"
check '(^|[^_a-z])(strcpy|strcat|sprintf|strtok|atoi|atof|gets)\(' "unsafe string function" "${files[@]}"
if [ $bad -ne 0 ]; then echo "checksrc: FAILED"; exit 1; fi
echo "checksrc: ok (${#files[@]} files)"
