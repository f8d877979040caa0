#!/usr/bin/env bash
# The demo: a key, the bundled sample encoded with the example schema, and what the file holds.
set -euo pipefail
pprl=$(realpath "$1")
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/demo-out"
mkdir -p "$out"
cd "$out"
[[ -e demo.key ]] || "$pprl" keygen --out demo.key
"$pprl" encode --schema "$root/examples/youth_schema.json" --secret-file demo.key \
  --in "$root/examples/sample_youth.csv" --out city.pprl --party city --rejects city.rejects.csv
"$pprl" inspect city.pprl
echo "demo: outputs in $out"
