#!/usr/bin/env bash
# End-to-end checks of the pprl CLI: outputs, exit codes per error class, no half-written files,
# and that the secret never reaches a log line.
set -u
pprl=$(realpath "$1")
src=$(realpath "$2")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
failures=0
passes=0

expect() {  # expect CODE DESCRIPTION -- command...
    local want=$1 what=$2
    shift 3
    "$@" >out.txt 2>err.txt
    local got=$?
    if [[ $got -ne $want ]]; then
        echo "FAIL: $what: exit $got, expected $want"; sed 's/^/    /' err.txt; failures=$((failures + 1))
    else
        passes=$((passes + 1))
    fi
}
check() {  # check DESCRIPTION -- test expression...
    local what=$1
    shift 2
    if "$@"; then passes=$((passes + 1)); else echo "FAIL: $what"; failures=$((failures + 1)); fi
}

schema="$src/examples/youth_schema.json"
sample="$src/examples/sample_youth.csv"

expect 0 "keygen" -- "$pprl" keygen --out k.key
check "key file is mode 600" -- test "$(stat -c %a k.key)" = 600
expect 2 "keygen refuses to overwrite" -- "$pprl" keygen --out k.key
key_hex=$(tr -d '\n' < k.key)

expect 0 "encode sample" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out a.pprl --party city
check "secret never printed by encode" -- bash -c "! grep -q '$key_hex' err.txt out.txt"
PPRL_SECRET_FILE=k.key expect 0 "secret from PPRL_SECRET_FILE" -- "$pprl" encode --schema "$schema" --in "$sample" --out b.pprl --party schools --threads 2
check "thread count does not change bytes (apart from party)" -- cmp -s <(tail -c +257 a.pprl) <(tail -c +257 b.pprl)
expect 0 "inspect" -- "$pprl" inspect a.pprl --json
check "inspect reports ok status" -- grep -q '"status": "ok"' out.txt
check "inspect shows popcount stats" -- grep -q '"fill_ratio"' out.txt

expect 0 "match" -- "$pprl" match a.pprl b.pprl --threshold 0.9 --out pairs.csv
check "pairs header" -- test "$(head -1 pairs.csv)" = "a_id,b_id,score"
check "every sample record matches itself" -- test "$(grep -c ',1$' pairs.csv)" = 10

expect 0 "match one file against itself (dedup)" -- "$pprl" match a.pprl --threshold 0.5 --out dedup.csv
check "dedup finds no self pairs" -- bash -c "! awk -F, 'NR > 1 && \$1 == \$2' dedup.csv | grep -q ."
expect 0 "export csv" -- "$pprl" export a.pprl --format csv --out a.csv
expect 0 "export clkhash json" -- "$pprl" export a.pprl --format clkhash-json --out a.json
expect 0 "import csv" -- "$pprl" import a.csv --bits 1024 --out imported.pprl
expect 0 "imported file matches with a warning" -- "$pprl" match imported.pprl b.pprl --threshold 0.9 --out p2.csv
check "warning about unknown key" -- grep -q "unknown" err.txt
check "imported pairs equal the original" -- cmp -s pairs.csv p2.csv

# Usage errors: exit 2, no output.
expect 2 "no subcommand" -- "$pprl"
expect 2 "unknown option" -- "$pprl" encode --bogus
expect 2 "no secret at all" -- env -u PPRL_SECRET_FILE "$pprl" encode --schema "$schema" --in "$sample" --out u.pprl
check "no output after usage error" -- test ! -e u.pprl
expect 2 "bad threshold" -- "$pprl" match a.pprl b.pprl --threshold 1.5 --out x.csv
expect 2 "secret as an argument is not an option" -- "$pprl" encode --schema "$schema" --secret "$key_hex" --in "$sample" --out u.pprl

# Validation errors: exit 3, no output file.
printf 'record_id,first_name\n1,a\n' > missing_cols.csv
expect 3 "missing columns" -- "$pprl" encode --schema "$schema" --secret-file k.key --in missing_cols.csv --out v.pprl
check "no output after validation error" -- test ! -e v.pprl
: > empty.csv
expect 3 "empty input" -- "$pprl" encode --schema "$schema" --secret-file k.key --in empty.csv --out v.pprl
echo '{"pprl_schema": 1, "fields": [{"name": "a", "tokenizer": {"q": 99}}]}' > bad_schema.json
expect 3 "bad schema" -- "$pprl" encode --schema bad_schema.json --secret-file k.key --in "$sample" --out v.pprl
check "schema error names the pointer" -- grep -q "/fields/0/tokenizer/q" err.txt
echo 0011 > short.key
expect 3 "short key" -- "$pprl" encode --schema "$schema" --secret-file short.key --in "$sample" --out v.pprl
check "no output after any failure" -- bash -c "! ls v.pprl* 2>/dev/null | grep -q ."

# Rejected rows: encoded file still written, rejects listed without values.
{ head -3 "$sample"; echo 'c-0099,Secretname,Doe,2010-02-21,Q,1 Main St,60601'; } > some_bad.csv
expect 0 "encode with a rejected row" -- "$pprl" encode --schema "$schema" --secret-file k.key --in some_bad.csv --out r.pprl --rejects rejects.csv
check "rejects file lists row 3" -- grep -q '^3,4,sex,' rejects.csv
check "rejects never echo values" -- bash -c "! grep -q Secretname rejects.csv err.txt"

# Key/schema mismatch: exit 4.
"$pprl" keygen --out other.key 2>/dev/null
"$pprl" encode --schema "$schema" --secret-file other.key --in "$sample" --out other.pprl 2>/dev/null
expect 4 "different keys refused" -- "$pprl" match a.pprl other.pprl --out m.csv
check "no pairs file after mismatch" -- test ! -e m.csv
"$pprl" import a.csv --bits 1024 --out i.pprl 2>/dev/null
sed 's/"bits": 1024/"bits": 2048/' "$schema" > schema2048.json
"$pprl" encode --schema schema2048.json --secret-file k.key --in "$sample" --out long.pprl 2>/dev/null
expect 4 "different lengths refused" -- "$pprl" match a.pprl long.pprl --out m.csv

# I/O and format errors: exit 5.
expect 5 "missing input" -- "$pprl" encode --schema "$schema" --secret-file k.key --in nope.csv --out v.pprl
expect 5 "unreadable key file" -- "$pprl" encode --schema "$schema" --secret-file nope.key --in "$sample" --out v.pprl
head -c 500 a.pprl > truncated.pprl
expect 5 "truncated file" -- "$pprl" inspect truncated.pprl
expect 5 "truncated file refused by match" -- "$pprl" match truncated.pprl b.pprl --out m.csv
cp a.pprl flipped.pprl
byte=$(od -An -tu1 -j300 -N1 a.pprl | tr -d ' ')
printf "\\x$(printf %02x $((byte ^ 1)))" | dd of=flipped.pprl bs=1 seek=300 conv=notrunc 2>/dev/null
check "flipped copy differs" -- bash -c "! cmp -s a.pprl flipped.pprl"
expect 5 "bit flip detected" -- "$pprl" match flipped.pprl b.pprl --out m.csv
expect 5 "output directory missing" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out /nonexistent/dir/x.pprl

# Forcing each backend gives the same pairs; an unknown backend is a usage error.
for backend in generic popcnt avx2 avx512; do
    if PPRL_FORCE_BACKEND=$backend "$pprl" match a.pprl b.pprl --threshold 0.5 --out "pairs_$backend.csv" 2>/dev/null; then
        check "backend $backend equals generic" -- cmp -s pairs_generic.csv "pairs_$backend.csv"
    fi
done
PPRL_FORCE_BACKEND=sse9 expect 2 "unknown forced backend" -- "$pprl" match a.pprl b.pprl --out m.csv
# One variable and one grammar for every kernel family; each chosen path is reported.
PPRL_FORCE_BACKEND=sha256=sse9 expect 2 "unknown sha256 implementation" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out forced.pprl
PPRL_FORCE_BACKEND=gpu=cuda expect 2 "unknown kernel family" -- "$pprl" --version --verbose
PPRL_FORCE_BACKEND=matcher=generic,matcher=avx2 expect 2 "family named twice" -- "$pprl" match a.pprl b.pprl --out m.csv
expect 0 "version lists every family" -- "$pprl" --version --verbose
for family in matcher sha256 blake2b aes blip; do
    check "version names $family" -- grep -q "^  $family: " out.txt
done
PPRL_FORCE_BACKEND=matcher=generic,sha256=openssl,blake2b=portable,aes=openssl,blip=portable \
    expect 0 "every family forced to its portable path" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out portable.pprl --party p
expect 0 "best paths" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out best.pprl --party p
check "portable and best paths give the same file" -- cmp -s portable.pprl best.pprl

# synth → encode → link → evaluate.
expect 0 "synth" -- "$pprl" synth --people 600 --seed 3 --out-dir syn
check "synth wrote three parties and the truth" -- test -s syn/city.csv -a -s syn/schools.csv -a -s syn/promise.csv -a -s syn/truth.csv
expect 0 "synth is deterministic" -- "$pprl" synth --people 600 --seed 3 --out-dir syn2
check "same seed, same bytes" -- cmp -s syn/city.csv syn2/city.csv
expect 2 "synth unknown party" -- "$pprl" synth --people 10 --out-dir syn3 --parties city,police
for party in city schools promise; do
    "$pprl" encode --schema "$schema" --secret-file k.key --in syn/$party.csv --out s_$party.pprl --party $party 2>/dev/null
done
expect 0 "link three parties" -- "$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --threshold 0.75 --out ent.csv --pairs-out lp.csv
records=$(( $(wc -l < syn/city.csv) + $(wc -l < syn/schools.csv) + $(wc -l < syn/promise.csv) - 3 ))
check "one entity row per input record" -- test "$(($(wc -l < ent.csv) - 1))" = "$records"
check "entities header" -- test "$(head -1 ent.csv)" = "party,record_id,entity_id"
expect 0 "link is deterministic" -- "$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --threshold 0.75 --threads 1 --out ent1.csv
check "thread count does not change entities" -- cmp -s ent.csv ent1.csv
expect 0 "link with LSH blocking and truth" -- "$pprl" link s_city.pprl s_schools.pprl --blocking lsh:40,20 --truth syn/truth.csv --out ent_lsh.csv
check "LSH reports pairs completeness" -- grep -q "pairs completeness" err.txt
expect 2 "bad blocking spec" -- "$pprl" link s_city.pprl s_schools.pprl --blocking lsh:0,5 --out x.csv
expect 4 "link refuses different keys" -- "$pprl" link s_city.pprl other.pprl --out x.csv
expect 0 "evaluate entities and pairs" -- "$pprl" evaluate --truth syn/truth.csv --entities ent.csv --pairs lp.csv --by group --report rep.html --json rep.json
check "evaluate prints F1" -- grep -q "F1" out.txt
check "report is HTML with SVG" -- grep -q "<svg" rep.html
check "json has the sweep" -- grep -q '"sweep"' rep.json
expect 2 "evaluate needs an input" -- "$pprl" evaluate --truth syn/truth.csv
expect 5 "evaluate missing truth" -- "$pprl" evaluate --truth nope.csv --entities ent.csv
printf 'party,record_id\nx,1\n' > bad_truth.csv
expect 3 "evaluate malformed truth" -- "$pprl" evaluate --truth bad_truth.csv --entities ent.csv

# clkhash schemas: the committed clkhash vectors through the CLI, a text secret, clkhash's JSON out.
python3 - "$src/tests/compat/vectors/febrl_tutorial.json" <<'PY'
import csv, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
with open("ck.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(doc["columns"])
    w.writerows(doc["rows"])
json.dump(doc["schema"], open("ck_schema.json", "w"))
open("ck.secret", "w").write(doc["secret"] + "\n")  # one trailing newline is not part of the secret
json.dump({"clks": [c for c in doc["clks"] if c is not None]}, open("ck_expected.json", "w"))
PY
chmod 600 ck.secret
expect 0 "encode with a clkhash schema" -- "$pprl" encode --schema ck_schema.json --secret-file ck.secret --in ck.csv --out ck.pprl --rejects ck_rejects.csv
check "short clkhash secret warned about" -- grep -q "can be guessed" err.txt
check "secret never printed" -- bash -c "! grep -qw secret out.txt"
expect 0 "export clkhash json" -- "$pprl" export ck.pprl --format clkhash-json --out ck.json
check "CLKs identical to clkhash's" -- python3 -c "import json,sys; sys.exit(json.load(open('ck.json')) != json.load(open('ck_expected.json')))"
check "rejected rows are the ones clkhash refuses" -- test "$(($(wc -l < ck_rejects.csv) - 1))" = 27
printf '{"version": 3, "clkConfig": {"l": 1024, "kdf": {"type": "HKDF"}, "shiny": 1}, "features": []}' > ck_bad.json
expect 3 "unknown clkhash option refused" -- "$pprl" encode --schema ck_bad.json --secret-file ck.secret --in ck.csv --out ck2.pprl
check "message names the option" -- grep -q "/clkConfig/shiny" err.txt
check "no output for a refused schema" -- test ! -e ck2.pprl

# Audit (agency side): statistics and attacks, exit codes for mismatched schema and bad input.
"$pprl" synth --people 1500 --seed 21 --out-dir aud_ref >/dev/null 2>&1
expect 0 "audit the city's encodings" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --report audit.html
check "audit reports both attacks" -- bash -c "grep -q 'frequency alignment' out.txt && grep -q 'bit-pattern mining' out.txt"
check "audit report is HTML with SVG" -- grep -q "<svg" audit.html
expect 0 "audit as JSON" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --json
check "audit JSON has statistics" -- grep -q '"bit_frequency_cv"' out.txt
expect 4 "audit refuses another schema's file" -- "$pprl" audit ck.pprl --schema "$schema" --plaintext aud_ref/city.csv
expect 3 "audit without the field in the plaintext" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext syn/truth.csv
expect 2 "audit of an unknown field" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --field shoe_size

echo "cli: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
