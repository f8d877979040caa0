#!/usr/bin/env bash
# A registry refresh against a batch link of the same records, in one run.
#
#   bench/registry_refresh.sh build/release/pprl [PEOPLE] [SEED] [THRESHOLD]
#
# pprl synth makes three parties' extracts (about 2.1 records per person: PEOPLE = 476000 gives one
# million records) and encodes them with the example schema. A refresh of each extract then has 10 %
# of its records new or updated: 5 % of its rows get another address (a move; their filters change)
# and new records amounting to 5 % of the rows come from a second population. The registry ingests
# and links the first extracts, then ingests the refreshes and links again (scoring only the new and
# updated records); pprl link --model record links the refreshed extracts, the same records, from
# scratch. Each step runs under /usr/bin/time -v: wall time and peak memory.
set -euo pipefail
pprl=$(realpath "$1")
people=${2:-476000}
seed=${3:-7}
threshold=${4:-0.65}
src=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$pprl" synth --people "$people" --seed "$seed" --out-dir base >/dev/null 2>&1
"$pprl" synth --people "$((people / 20 + 1))" --seed "$((seed + 1))" --out-dir extra >/dev/null 2>&1
python3 - <<'PY'
import csv, random
random.seed(1)
for party in ("city", "schools", "promise"):
    rows = list(csv.reader(open(f"base/{party}.csv", encoding="utf-8")))
    header, body = rows[0], rows[1:]
    extra = list(csv.reader(open(f"extra/{party}.csv", encoding="utf-8")))[1:]
    moved = random.sample(range(len(body)), len(body) // 20)
    for i in moved:
        donor = body[random.randrange(len(body))]
        body[i] = body[i][:5] + [donor[5] + " Apt 2", donor[6]]  # address, zip
    new = [[f"{party}-new-{k:07d}"] + row[1:] for k, row in enumerate(extra[: len(body) // 20])]
    with open(f"base/{party}-refresh.csv", "w", newline="", encoding="utf-8") as f:
        csv.writer(f).writerows([header] + body + new)
PY
"$pprl" keygen --out k.key >/dev/null 2>&1
for party in city schools promise; do
    for name in "$party" "$party-refresh"; do
        "$pprl" encode --schema "$src/examples/youth_schema.json" --secret-file k.key --in "base/$name.csv" \
            --out "$name.pprl" --party "$party" >/dev/null 2>&1
    done
done
timed() {  # label command...: prints the label, wall seconds and peak resident memory
    local label=$1
    shift
    /usr/bin/time -v "$@" > /dev/null 2> time.txt || { cat time.txt; exit 1; }
    local wall rss
    wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' time.txt |
        awk -F: '{ s = 0; for (i = 1; i <= NF; i++) s = s * 60 + $i; printf "%.1f", s }')
    rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' time.txt)
    printf '%-44s %8s s  %6d MiB\n' "$label" "$wall" "$((rss / 1024))"
    echo "$wall" > "last.txt"
}
records=$(( $(wc -l < base/city-refresh.csv) + $(wc -l < base/schools-refresh.csv) + $(wc -l < base/promise-refresh.csv) - 3 ))
echo "registry refresh: $people people, $records records after the refresh, threshold $threshold ($(nproc) threads)"
"$pprl" registry init hub.db 2>/dev/null
for party in city schools promise; do
    timed "ingest $party (first extract)" "$pprl" registry ingest hub.db "$party.pprl" --party "$party" --as-of 2025-09-01
done
timed "registry link (first: every pair)" "$pprl" registry link hub.db --threshold "$threshold"
refresh=0
for party in city schools promise; do
    timed "ingest $party (refresh)" "$pprl" registry ingest hub.db "$party-refresh.pprl" --party "$party" --as-of 2026-09-01
    refresh=$(awk -v a="$refresh" -v b="$(cat last.txt)" 'BEGIN { print a + b }')
done
timed "registry link (refresh: new and updated only)" "$pprl" registry link hub.db --threshold "$threshold"
refresh=$(awk -v a="$refresh" -v b="$(cat last.txt)" 'BEGIN { print a + b }')
timed "pprl link of the refreshed extracts (batch)" "$pprl" link city-refresh.pprl schools-refresh.pprl promise-refresh.pprl \
    --model record --threshold "$threshold" --out batch.csv
batch=$(cat last.txt)
"$pprl" registry events hub.db | grep LINK | tail -1 | sed 's/^[0-9]* *[0-9-]* *LINK */last link: /'
awk -v r="$refresh" -v b="$batch" 'BEGIN { printf "refresh (ingest + link) %.1f s against batch %.1f s: %.2f of the batch\n", r, b, r / b }'
echo "registry file: $(du -m hub.db | cut -f1) MiB"
