#!/usr/bin/env bash
# tests/run/fhirpath_gen.sh - the generated FHIRPath files are current: the FHIR type
# tables (tools/fhirpath_gentypes.py -> src/fhirpath/fp_types_tab.h, fp_types_ids.h) and
# the suite cases (tools/fhirpath_xml2json.py -> tests/data/fhirpath/r4-cases.json).
# Exit 77 (skipped) without python3.
set -uo pipefail
src=${FL_SOURCE_DIR:?}
command -v python3 >/dev/null || exit 77
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fail=0
check() { # generated-file, command...
  local want=$1; shift
  if ! "$@" > "$work/out" || ! cmp -s "$work/out" "$want"; then
    echo "FAIL $want is not what '$*' generates (rerun it and commit)"; fail=1
  else
    echo "ok   $want"
  fi
}
check "$src/src/fhirpath/fp_types_tab.h" python3 "$src/tools/fhirpath_gentypes.py"
check "$src/src/fhirpath/fp_types_ids.h" python3 "$src/tools/fhirpath_gentypes.py" --ids
check "$src/tests/data/fhirpath/r4-cases.json" python3 "$src/tools/fhirpath_xml2json.py" "$src/tests/data/fhirpath/r4/tests-fhir-r4.xml"
for f in observation-example valueset-example-expansion parameters-example-types patient-example-period; do
  check "$src/tests/data/fhirpath/r4/converted/$f.json" python3 "$src/tools/fhirpath_fhirxml2json.py" "$src/tests/data/fhirpath/r4/$f.xml"
done
exit $fail
