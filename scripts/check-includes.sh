#!/usr/bin/env bash
# Fails when a library source includes a header from a module above its own. The modules, top
# to bottom (DESIGN.md, README.md "Layout"); a file may include headers of its own module and of
# the modules below it:
#   kb  generate  rerank  retrieve  ingest  index  models  text  net  core
# The public headers in include/ragline/ are the vocabulary every module shares (value types,
# Error, the small extension interfaces), except the facade ones, which only kb/ and the
# programs outside the library (tools, bench, tests, fuzz, examples, python) may include.
set -euo pipefail
cd "$(dirname "$0")/.."

modules=(kb generate rerank retrieve ingest index models text net core)
facade_headers="knowledge_base.hpp ask.hpp ragline.hpp ragline.h json.hpp"

level_of() {
  local i
  for i in "${!modules[@]}"; do
    if [ "${modules[$i]}" = "$1" ]; then
      echo $(( ${#modules[@]} - i ))
      return
    fi
  done
  echo 0
}

# "LINE:HEADER" for every #include of a file.
includes_of() {
  grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]' "$1" |
    sed 's/^\([0-9]*\):[[:space:]]*#[[:space:]]*include[[:space:]]*[<"]\([^>"]*\)[>"].*/\1:\2/'
}

failures=0
checked=0
for module in "${modules[@]}"; do
  own=$(level_of "$module")
  while IFS= read -r file; do
    checked=$((checked + 1))
    while IFS=: read -r line header; do
      target=${header%%/*}
      if [ "$target" = "ragline" ]; then
        name=${header#ragline/}
        if [ "$module" != kb ] && [[ " $facade_headers " == *" $name "* ]]; then
          echo "$file:$line: includes the facade header <$header> (only kb/ and programs may)"
          failures=$((failures + 1))
        fi
        continue
      fi
      target_level=$(level_of "$target")
      [ "$target_level" -eq 0 ] && continue  # not a module folder (a system or third-party header)
      if [ "$target_level" -gt "$own" ]; then
        echo "$file:$line: $module/ includes \"$header\" from $target/, a module above it"
        failures=$((failures + 1))
      fi
    done < <(includes_of "$file")
  done < <(git ls-files "$module/*.cpp" "$module/*.hpp" "$module/*.h" "$module/*.c")
done

# The public headers themselves include only public headers.
while IFS= read -r file; do
  checked=$((checked + 1))
  while IFS=: read -r line header; do
    case "$header" in
      ragline/*) ;;
      */*)
        echo "$file:$line: a public header includes the internal header \"$header\""
        failures=$((failures + 1))
        ;;
    esac
  done < <(grep -n '^[[:space:]]*#[[:space:]]*include[[:space:]]*"' "$file" | sed 's/^\([0-9]*\):[^"]*"\([^"]*\)".*/\1:\2/')
done < <(git ls-files 'include/ragline/*')

if [ "$failures" -gt 0 ]; then
  echo "check-includes: $failures include(s) point up the module table ($checked files checked)"
  exit 1
fi
echo "check-includes: $checked files, every include points down the module table"
