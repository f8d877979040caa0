#!/usr/bin/env bash
# Runs the benchmarks behind the README's performance tables (about forty minutes on two cores).
#   scripts/bench.sh BUILD_DIR
# Timings on shared or throttled machines drift between runs: pause between programs and compare
# figures from the same run.
set -euo pipefail
build=$(realpath "$1")
pause() { sleep 20; }
echo "== matching, 10k x 100k, 1024 bits (bench_match)"
"$build/bench/bench_match"
pause
echo "== the matcher on real encodings beside random ones, 50,000 people (real_match.sh)"
bash "$(dirname "$0")/../bench/real_match.sh" "$build/pprl" "" 50000 2
pause
echo "== one million x one million (match_million, /usr/bin/time -v)"
/usr/bin/time -v "$build/bench/match_million" 2>&1 | grep -E "match_million|generate|Elapsed|Maximum resident"
pause
echo "== three parties, 300k + 100k + 50k (link_parties)"
for mode in exact lsh; do
  /usr/bin/time -v "$build/bench/link_parties" "$mode" 2>&1 | grep -E "link_parties|Maximum resident"
  pause
done
echo "== encoding, one million rows (bench_encode)"
"$build/bench/bench_encode"
pause
echo "== hardening: linkage F1 against attack success (harden_audit)"
"$build/bench/harden_audit" 10000 7
pause
echo "== registry: a 10 % refresh of one million records against a batch link (registry_refresh.sh)"
bash "$(dirname "$0")/../bench/registry_refresh.sh" "$build/pprl" 476000 7 0.65
pause
echo "== pprl.dask: one million x one million on two workers against pprl match --threads 2 (dask_match.py)"
python3 "$(dirname "$0")/../bench/dask_match.py" "$build" 1000000 0.8 1
