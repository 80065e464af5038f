#!/usr/bin/env bash
# parquet_cli.sh FHIRLAKE - `fhirlake parquet cat|schema|meta` over parquet-testing without
# any Python peer: every file's row count equals the count in tests/data/parquet/SOURCE.md
# (from DuckDB's parquet_metadata) except the documented refusals (EXPECTED.md), and every
# bad_data file ends with exit 1 and a "fhirlake:" message (never a crash).
set -uo pipefail
fl=$1
d=${FL_SOURCE_DIR}/tests/data/parquet
fail=0 n=0
# files whose count differs on purpose: refused (EXPECTED.md) or mis-stated in SOURCE.md
declare -A special=([large_string_map.brotli.parquet]=refuse [nation.dict-malformed.parquet]=refuse
                    [repeated_no_annotation.parquet]=6)
while read -r f want; do
  n=$((n + 1))
  out=$("$fl" parquet cat "$d/data/$f" 2>/tmp/pq_cli_err.$$); rc=$?
  got=$(printf '%s' "$out" | grep -c '^{' || true)
  case "${special[$f]:-}" in
    refuse) if [ $rc -ne 1 ] || ! grep -q '^fhirlake:' /tmp/pq_cli_err.$$; then echo "FAIL $f: expected a clean refusal (rc $rc)"; fail=1; fi; continue ;;
    "") ;;
    *) want=${special[$f]} ;;
  esac
  if [ $rc -ne 0 ] || [ "$got" != "$want" ]; then echo "FAIL $f: rc $rc, $got rows, want $want"; cat /tmp/pq_cli_err.$$; fail=1; fi
  "$fl" parquet schema "$d/data/$f" > /dev/null || { echo "FAIL schema $f"; fail=1; }
  "$fl" parquet meta "$d/data/$f" > /dev/null || { echo "FAIL meta $f"; fail=1; }
done < <(grep -E '^\| [A-Za-z0-9_.-]+\.parquet \| [0-9]+ \|' "$d/SOURCE.md" | awk -F'|' '{gsub(/ /,"",$2); gsub(/ /,"",$3); print $2, $3}')
for f in "$d"/bad_data/*.parquet; do
  "$fl" parquet cat "$f" > /dev/null 2>/tmp/pq_cli_err.$$; rc=$?
  if [ $rc -gt 1 ] || grep -qE 'Sanitizer|runtime error' /tmp/pq_cli_err.$$; then
    echo "FAIL $(basename "$f"): crashed (rc $rc)"; cat /tmp/pq_cli_err.$$; fail=1
  elif [ $rc -eq 1 ] && ! grep -q '^fhirlake:' /tmp/pq_cli_err.$$; then
    echo "FAIL $(basename "$f"): no clear message"; fail=1
  fi
done
rm -f /tmp/pq_cli_err.$$
[ $n -gt 50 ] || { echo "FAIL: only $n files listed in SOURCE.md"; fail=1; }
[ $fail -eq 0 ] && echo "parquet_cli: $n parquet-testing files and $(ls "$d"/bad_data/*.parquet | wc -l) bad_data files ok"
exit $fail
