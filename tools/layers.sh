#!/usr/bin/env bash
# tools/layers.sh - check that each module includes only modules to its left in the
# layer order of DESIGN.md §2 (public headers fhirlake/<m>.h count as module m).
set -uo pipefail
cd "$(dirname "$0")/.."
declare -A allowed=(
  [base]="base"
  [os]="base os"
  [json]="base os json"
  [parquet]="base os parquet"
  [store]="base os store"
  [http]="base os http"
  [fhirpath]="base os json fhirpath"
  [delta]="base os json parquet store delta"
  [hl7v2]="base os json hl7v2"
  [fhirdb]="base os json fhirpath fhirdb"
  [view]="base os json fhirpath view"
  [engine]="base os json parquet store http fhirpath delta hl7v2 view engine"
  [server]="base os json parquet store http fhirpath delta hl7v2 fhirdb view engine server"
)
bad=0
for dir in src/*/; do
  m=$(basename "$dir")
  ok=${allowed[$m]:-}
  if [ -z "$ok" ]; then echo "layers: unknown module $m (add it to tools/layers.sh and DESIGN)"; bad=1; continue; fi
  while IFS=: read -r file _ inc; do
    target=$(echo "$inc" | sed -nE 's/.*#include +"(fhirlake\/)?([a-z0-9]+)(\/|_|\.).*/\2/p')
    [ -z "$target" ] && continue
    case "$target" in errors|fhirlake) target=base ;; esac
    [ -d "src/$target" ] || [ -f "include/fhirlake/$target.h" ] || continue
    if ! [[ " $ok " == *" $target "* ]]; then
      echo "layers: $file includes $target, which is not left of $m"; bad=1
    fi
  done < <(grep -nH '#include "' "$dir"*.c "$dir"*.h 2>/dev/null)
done
[ $bad -ne 0 ] && { echo "layers: FAILED"; exit 1; }
echo "layers: ok"
