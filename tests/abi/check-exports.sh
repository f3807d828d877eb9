#!/usr/bin/env bash
# Checks the ABI of libragline.so: every symbol it exports is ragline:: C++ (functions, typeinfo,
# vtables) or the C API (ragline_*), so no dependency linked into it (FAISS, SQLite, ICU,
# nlohmann-json, libstdc++ templates) leaks out; and every line of the public symbol list (a
# demangled prefix) is exported.
#   check-exports.sh LIBRARY PUBLIC_SYMBOLS_FILE
set -euo pipefail
library=$1
public_symbols=$2

# "nm -D" lines are "ADDRESS TYPE NAME"; the demangled NAME may contain spaces. The list is
# written without the [abi:cxx11] tags of functions returning std::string.
exported=$(nm -D --defined-only -C "$library" | cut -d' ' -f3- | sed 's/\[abi:cxx11\]//g')
count=$(printf '%s\n' "$exported" | grep -c . || true)
echo "$library exports $count symbols"
failures=0

allowed='^(ragline::|(typeinfo|typeinfo name|vtable|VTT|guard variable) for ragline::|(non-)?virtual thunk to ragline::|ragline_[a-z_]+$)'
foreign=$(printf '%s\n' "$exported" | grep -Ev "$allowed" || true)
if [ -n "$foreign" ]; then
  echo "FAILED: exported symbols outside ragline:: and the C API:"
  printf '%s\n' "$foreign" | head -50 | sed 's/^/  /'
  for family in 'faiss::' 'sqlite3' 'nlohmann' 'icu' 'std::' 'curl' 'sb_stemmer' 'cblas'; do
    n=$(printf '%s\n' "$foreign" | grep -c -- "$family" || true)
    [ "$n" -gt 0 ] && echo "  ($n of them mention $family)"
  done
  failures=$((failures + 1))
else
  echo "ok: every exported symbol is ragline:: or ragline_*"
fi

while IFS= read -r symbol; do
  case "$symbol" in '' | '#'*) continue ;; esac
  if printf '%s\n' "$exported" | awk -v prefix="$symbol" 'index($0, prefix) == 1 { found = 1 } END { exit !found }'; then
    echo "ok: exports $symbol"
  else
    echo "FAILED: does not export $symbol"
    failures=$((failures + 1))
  fi
done <"$public_symbols"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed"; exit 1; }
