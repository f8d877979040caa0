#!/usr/bin/env bash
# The two ways three or more parties' clusters merge, side by side: pprl's default (two clusters
# merge when they share no party) and anonlink's greedy_solve rule (`--merge clique`: only when every
# pair across them is a candidate). Three agencies from `pprl synth`, the example schema, the
# record-level model; entity F1 (pprl evaluate --entities) at each threshold, for each rule.
#   bench/merge_rules.sh build/release/pprl [PEOPLE] [SEED] [THRESHOLDS]
set -euo pipefail
pprl=$(realpath "$1")
people=${2:-20000}
seed=${3:-7}
thresholds=${4:-"0.6 0.65 0.7 0.75 0.8"}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$pprl" synth --people "$people" --seed "$seed" --out-dir syn >/dev/null 2>&1
"$pprl" keygen --out k.key >/dev/null 2>&1
for party in city schools promise; do
    "$pprl" encode --schema "$src/examples/youth_schema.json" --secret-file k.key --in "syn/$party.csv" \
        --out "$party.pprl" --party "$party" >/dev/null 2>&1
done
f1() {  # threshold rule
    "$pprl" link city.pprl schools.pprl promise.pprl --model record --threshold "$1" --merge "$2" \
        --out entities.csv >/dev/null 2>&1
    "$pprl" evaluate --truth syn/truth.csv --entities entities.csv 2>&1 | sed -n 's/^.*F1 \([0-9.]*\).*$/\1/p' | head -1
}
echo "people: $people, seed $seed; three parties, example schema, record-level Dice, greedy"
printf '%-10s %-16s %-16s %s\n' threshold "F1 parties" "F1 clique" "entities (parties / clique)"
for t in $thresholds; do
    a=$(f1 "$t" parties); na=$(($(cut -d, -f3 entities.csv | sort -u | wc -l) - 1))
    b=$(f1 "$t" clique); nb=$(($(cut -d, -f3 entities.csv | sort -u | wc -l) - 1))
    printf '%-10s %-16s %-16s %s / %s\n' "$t" "$a" "$b" "$na" "$nb"
done
