#!/usr/bin/env bash
# The demo: three agencies' synthetic extracts, each encoded at "home" under a shared key, linked at
# the hub, and evaluated against the truth, overall and per group.
#   scripts/demo.sh PPRL_BINARY [PEOPLE]
set -euo pipefail
pprl=$(realpath "$1")
people=${2:-20000}
root=$(cd "$(dirname "$0")/.." && pwd)
out="$root/demo-out"
rm -rf "$out"
mkdir -p "$out"
cd "$out"

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
log() { printf '%s\n' "$*"; }

t=$(now)
"$pprl" synth --people "$people" --seed 2026 --out-dir data 2>/dev/null
log "synth     $(elapsed "$t") s   $people young people; extracts: $(for p in city schools promise; do printf '%s %s  ' "$p" "$(($(wc -l < data/$p.csv) - 1))"; done)"

t=$(now)
"$pprl" keygen --out shared.key 2>/dev/null
for party in city schools promise; do
  "$pprl" encode --schema "$root/examples/youth_schema.json" --secret-file shared.key \
    --in "data/$party.csv" --out "$party.pprl" --party "$party" --rejects "$party.rejects.csv" 2>/dev/null
done
log "encode    $(elapsed "$t") s   three agencies, example schema, 1024-bit CLKs (only these leave an agency)"

t=$(now)
"$pprl" link city.pprl schools.pprl promise.pprl --method greedy \
  --out entities.csv --pairs-out pairs.csv 2> link.log
log "link      $(elapsed "$t") s   $(grep -o '[0-9,]* records in [0-9,]* entities' link.log), Dice threshold $(grep -o 'auto: 0\.[0-9]\{3\}' link.log | cut -c7-) chosen from the data"

t=$(now)
"$pprl" evaluate --truth data/truth.csv --entities entities.csv --pairs pairs.csv --by group \
  --report report.html --json metrics.json > evaluation.txt 2>/dev/null
log "evaluate  $(elapsed "$t") s"
log ""
sed -n '1,6p' evaluation.txt
log ""
log "report: $out/report.html"
