#!/usr/bin/env bash
# The matcher on what users run, beside the random benchmark, in one run.
#
#   bench/real_match.sh PPRL_BINARY [BASELINE_BINARY] [PEOPLE] [ROUNDS]
#
# pprl synth makes PEOPLE people (default 50,000); city and schools are encoded with the example
# schema (record-level CLK, diffused) and with examples/clkhash_youth_schema.json (a clkhash
# tutorial-style schema), and `pprl match city schools` runs at the example schema's operating
# threshold (0.65) and at 0.8, and on the clkhash-style encodings at 0.8, with one and two threads,
# to /dev/null. Each row reports the kernel's own time ("matched in", as pprl match prints it) and
# the whole process; `match_million` gives the same shape of random CLK-like filters at the same
# thresholds. With BASELINE_BINARY (say, the matcher of an earlier commit, built apart), every run
# alternates the two binaries, so their figures come from the same minutes of the machine.
set -euo pipefail
pprl=$(realpath "$1")
baseline=${2:+$(realpath "$2")}
people=${3:-50000}
rounds=${4:-2}
root=$(cd "$(dirname "$0")/.." && pwd)
bench_dir=$(dirname "$pprl")/bench
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
"$pprl" synth --people "$people" --seed 3 --out-dir s >/dev/null 2>&1
"$pprl" keygen --out k.key >/dev/null 2>&1
for party in city schools; do
    "$pprl" encode --schema "$root/examples/youth_schema.json" --secret-file k.key --in "s/$party.csv" \
        --out "example-$party.pprl" --party "$party" >/dev/null 2>&1
    "$pprl" encode --schema "$root/examples/clkhash_youth_schema.json" --secret-file k.key --in "s/$party.csv" \
        --out "clkhash-$party.pprl" --party "$party" >/dev/null 2>&1
done
rows_a=$(($(wc -l < s/city.csv) - 1))
rows_b=$(($(wc -l < s/schools.csv) - 1))
echo "real_match: $rows_a x $rows_b records of $people people, backend $("$pprl" --version --verbose | sed -n 's/^ *matcher: \([a-z0-9]*\).*/\1/p')"
echo
echo "| binary | encodings | threshold | threads | kernel s | kernel G pairs/s | whole process s |"
echo "|---|---|---|---|---|---|---|"
run() {  # binary label encodings threshold threads
    local out kernel rate total
    out=$("$1" match "$3-city.pprl" "$3-schools.pprl" --threshold "$4" --threads "$5" --out /dev/null 2>&1 | grep 'matched in')
    kernel=$(sed -n 's/.*matched in \([0-9.]*\) s.*/\1/p' <<< "$out")
    rate=$(sed -n 's/.*(\([0-9.]*\) G pairs\/s.*/\1/p' <<< "$out")
    total=$(sed -n 's/.*total \([0-9.]*\) s.*/\1/p' <<< "$out")
    echo "| $2 | $3 | $4 | $5 | $kernel | $rate | $total |"
}
for round in $(seq "$rounds"); do
    for config in "example 0.65" "example 0.8" "clkhash 0.8"; do
        set -- $config
        for threads in 1 2; do
            run "$pprl" new "$1" "$2" "$threads"
            if [[ -n "$baseline" ]]; then run "$baseline" baseline "$1" "$2" "$threads"; fi
        done
    done
done
if [[ -x "$bench_dir/match_million" ]]; then
    echo
    echo "Random CLK-like filters of the same shape (bench/match_million, generation excluded):"
    for threshold in 0.65 0.8; do
        for threads in 1 2; do
            "$bench_dir/match_million" "$rows_a" "$rows_b" "$threshold" "$threads" | sed -n 's/^ *generate [0-9.]* s, /  t = '"$threshold"', '"$threads"' thread(s): /p'
        done
    done
fi
