#!/usr/bin/env bash
# What a clkhash schema's lack of normalisation costs, and what `pprl schema convert` gives back.
#
#   bench/clkhash_migration.sh build/release/pprl [PEOPLE] [SEED]
#
# pprl synth makes city and schools extracts; the schools extract is then written as many record
# systems export it, names and addresses in upper case. Both are encoded twice: with the clkhash
# schema examples/clkhash_youth_schema.json (pprl's clkhash mode, byte-identical to clkhash 0.18.3)
# and with the pprl schema `pprl schema convert` makes of it. The pairs of each two files are scored
# (pprl match, Dice >= 0.75: the clkhash schema's filters are so full that most pairs score above
# 0.5) and pprl evaluate reports the best pairwise F1 over thresholds, for the rows as written and
# with the schools' rows upper-cased.
set -euo pipefail
pprl=$(realpath "$1")
people=${2:-5000}
seed=${3:-11}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$pprl" synth --people "$people" --seed "$seed" --out-dir syn --parties city,schools >/dev/null 2>&1
python3 - <<'PY'
import csv
rows = list(csv.reader(open("syn/schools.csv", encoding="utf-8")))
for row in rows[1:]:
    for column in (1, 2, 5):  # first_name, last_name, address
        row[column] = row[column].upper()
csv.writer(open("syn/schools_upper.csv", "w", newline="", encoding="utf-8")).writerows(rows)
PY
printf 'a shared clkhash secret of 32 bytes\n' > clkhash.secret
chmod 600 clkhash.secret
"$pprl" keygen --out pprl.key >/dev/null 2>&1
"$pprl" schema convert "$src/examples/clkhash_youth_schema.json" --out converted.json 2>/dev/null
best_f1() {  # schema secret schools_csv
    "$pprl" encode --schema "$1" --secret-file "$2" --in syn/city.csv --out city.pprl --party city >/dev/null 2>&1
    "$pprl" encode --schema "$1" --secret-file "$2" --in "$3" --out schools.pprl --party schools >/dev/null 2>&1
    "$pprl" match city.pprl schools.pprl --threshold 0.75 --out pairs.csv 2>/dev/null
    "$pprl" evaluate --truth syn/truth.csv --pairs pairs.csv --parties city,schools 2>/dev/null |
        sed -n 's/^best threshold \([0-9.]*\) (F1 \([0-9.]*\))$/F1 \2 at t = \1/p'
}
echo "people: $people, seed $seed; city x schools, best F1 over thresholds"
echo "clkhash schema, rows as written:      $(best_f1 "$src/examples/clkhash_youth_schema.json" clkhash.secret syn/schools.csv)"
echo "clkhash schema, schools upper-cased:  $(best_f1 "$src/examples/clkhash_youth_schema.json" clkhash.secret syn/schools_upper.csv)"
echo "converted schema, rows as written:    $(best_f1 converted.json pprl.key syn/schools.csv)"
echo "converted schema, schools upper-cased: $(best_f1 converted.json pprl.key syn/schools_upper.csv)"
