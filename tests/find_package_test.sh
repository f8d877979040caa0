#!/usr/bin/env bash
# Installs pprl from a build tree into a temporary prefix, builds examples/export_tool against it
# with find_package(pprl), and runs it: the packaging works for a consumer project.
set -euo pipefail
build=$(realpath "$1")
src=$(realpath "$2")
pprl_cli=$(realpath "$3")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$src/examples/export_tool" -B "$work/build" -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$work/build" -j 2 >/dev/null
"$pprl_cli" keygen --out "$work/k.key" 2>/dev/null
"$work/build/export_tool" "$src/examples/youth_schema.json" "$work/k.key" "$src/examples/sample_youth.csv" \
  "$work/out.pprl" city | tee "$work/log.txt"
grep -q "encoded 10 of 10 rows" "$work/log.txt"
"$pprl_cli" inspect "$work/out.pprl" | grep -q "status: ok"
echo "find_package consumer: built, ran, and its output verifies"
