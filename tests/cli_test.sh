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
for family in matcher sha256 blake2b aes blip diffusion; do
    check "version names $family" -- grep -q "^  $family: " out.txt
done
PPRL_FORCE_BACKEND=matcher=generic,sha256=openssl,blake2b=portable,aes=openssl,blip=portable,diffusion=portable \
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
expect 0 "link with anonlink's clique rule" -- "$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --threshold 0.75 --merge clique --out ent_clique.csv --pairs-out lp_clique.csv
check "links no more pairs than the default rule" -- test "$(grep -c ',1$' lp_clique.csv)" -le "$(grep -c ',1$' lp.csv)"
check "and names more entities" -- test "$(cut -d, -f3 ent_clique.csv | sort -u | wc -l)" -ge "$(cut -d, -f3 ent.csv | sort -u | wc -l)"
expect 2 "bad blocking spec" -- "$pprl" link s_city.pprl s_schools.pprl --blocking lsh:0,5 --out x.csv
expect 4 "link refuses different keys" -- "$pprl" link s_city.pprl other.pprl --out x.csv
# The models and automatic thresholds: the record-level model on record-level encodings, Fellegi–
# Sunter on segmented ones (the default for them), with the per-segment columns in the pairs.
expect 0 "link with the automatic threshold" -- "$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --out ent_auto.csv
check "the chosen threshold is reported" -- grep -q "threshold auto: 0\.[5-9]" err.txt
expect 2 "the fs model needs segmented encodings" -- "$pprl" link s_city.pprl s_schools.pprl --model fs --out x.csv
check "and says so" -- grep -q "segmented layout" err.txt
expect 0 "a threshold far from the estimate is linked, with a warning" -- "$pprl" link s_city.pprl s_schools.pprl --threshold 0.95 --out ent_far.csv
check "the warning names the estimate" -- grep -q "far from the estimated best threshold" err.txt
seg_schema="$src/examples/youth_schema_segmented.json"
for party in city schools promise; do
    "$pprl" encode --schema "$seg_schema" --secret-file k.key --in syn/$party.csv --out g_$party.pprl --party $party 2>/dev/null
done
expect 0 "inspect a segmented file" -- "$pprl" inspect g_city.pprl --json
check "inspect shows the segments" -- grep -q '"segment": "first_name"' out.txt
expect 0 "link segmented encodings (fs by default)" -- "$pprl" link g_city.pprl g_schools.pprl g_promise.pprl --out ent_fs.csv --pairs-out lp_fs.csv
check "the model is reported" -- grep -q "Fellegi-Sunter model over 6 segments" err.txt
check "fs pairs carry weights and levels" -- bash -c "head -1 lp_fs.csv | grep -q 'match_weight,match_probability,first_name_level,first_name_weight'"
expect 0 "evaluate reads fs pairs" -- "$pprl" evaluate --truth syn/truth.csv --entities ent_fs.csv --pairs lp_fs.csv
expect 0 "link with a model report" -- "$pprl" link g_city.pprl g_schools.pprl --out ent_rep.csv --report link.html
check "the report has the fitted m and u and the pairs near the threshold" -- bash -c "grep -q 'Fitted m and u' link.html && grep -q 'Pairs nearest the threshold' link.html && grep -q '<svg' link.html"
check "the report names no value, only ids" -- bash -c "! grep -qwF -f <(cut -d, -f2 syn/city.csv | sed 1d | sort -u | awk 'length > 3' | head -50) link.html"
expect 2 "a report that would replace an input is refused" -- "$pprl" link g_city.pprl g_schools.pprl --out ent_rep2.csv --report g_city.pprl
check "and no entities are written" -- test ! -e ent_rep2.csv
expect 0 "record-level model on segmented encodings" -- "$pprl" link g_city.pprl g_schools.pprl --model record --out ent_rec.csv
expect 4 "segmented and record-level encodings are not compared" -- "$pprl" link g_city.pprl s_schools.pprl --out x.csv
check "no output after the refusal" -- test ! -e x.csv
expect 0 "evaluate entities and pairs" -- "$pprl" evaluate --truth syn/truth.csv --entities ent.csv --pairs lp.csv --by group --report rep.html --json rep.json
check "evaluate prints F1" -- grep -q "F1" out.txt
check "report is HTML with SVG" -- grep -q "<svg" rep.html
check "json has the sweep" -- grep -q '"sweep"' rep.json
expect 2 "evaluate needs an input" -- "$pprl" evaluate --truth syn/truth.csv
expect 5 "evaluate missing truth" -- "$pprl" evaluate --truth nope.csv --entities ent.csv
# Standard input and output ("-") for CSV and JSON tables; --no-header.
expect 0 "match to standard output" -- "$pprl" match a.pprl b.pprl --threshold 0.9 --out -
check "the same rows as to a file" -- cmp -s out.txt pairs.csv
check "and no file named -" -- test ! -e -
expect 0 "link to standard output" -- "$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --threshold 0.75 --out -
check "the same entities as to a file" -- cmp -s out.txt ent.csv
expect 2 "two outputs cannot both be standard output" -- "$pprl" link s_city.pprl s_schools.pprl --out - --pairs-out -
expect 0 "export to standard output" -- "$pprl" export a.pprl --format clkhash-json --out -
check "the same JSON as to a file" -- cmp -s out.txt a.json
expect 0 "import from standard input" -- bash -c "\"$pprl\" import - --bits 1024 --out a_std.pprl < a.json"
expect 0 "export it again" -- "$pprl" export a_std.pprl --format clkhash-json --out a_std.json
check "round trip through standard input" -- cmp -s a_std.json a.json
expect 2 "an encoded file is never written to standard output" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out -
expect 2 "nor a key" -- "$pprl" keygen --out -
expect 0 "encode from standard input" -- bash -c "\"$pprl\" encode --schema \"$schema\" --secret-file k.key --in - --out a_stdin.pprl --party city < \"$sample\""
check "the same filters as from the file" -- cmp -s <(tail -c +257 a.pprl) <(tail -c +257 a_stdin.pprl)
sed 1d "$sample" > sample_no_header.csv
expect 0 "encode a file without a header (schema order)" -- "$pprl" encode --schema "$schema" --secret-file k.key --in sample_no_header.csv --no-header --out a_nh.pprl --party city
check "the same filters and ids" -- cmp -s <(tail -c +257 a.pprl) <(tail -c +257 a_nh.pprl)
expect 0 "evaluate reads the truth from standard input" -- bash -c "\"$pprl\" evaluate --truth - --entities ent.csv --json - < syn/truth.csv"
check "and writes its JSON to standard output" -- python3 -c "import json; json.load(open('out.txt'))"
check "the figures then go to standard error" -- grep -q "F1" err.txt
expect 2 "two standard inputs" -- "$pprl" evaluate --truth - --entities -
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
tail -n +2 ck.csv > ck_no_header.csv
expect 0 "a clkhash schema without a header (clkhash's header=False)" -- "$pprl" encode --schema ck_schema.json --secret-file ck.secret --in ck_no_header.csv --no-header --out ck_nh.pprl
check "the same CLKs" -- cmp -s <(tail -c +257 ck.pprl) <(tail -c +257 ck_nh.pprl)
expect 0 "rejected rows to standard output" -- "$pprl" encode --schema ck_schema.json --secret-file ck.secret --in ck.csv --out ck_r.pprl --rejects -
check "the same table as to a file" -- cmp -s out.txt ck_rejects.csv
python3 -c "import json; s = json.load(open('ck_schema.json')); s['clkConfig']['k'] = 20; json.dump(s, open('ck_leftover.json', 'w'))"
expect 0 "a key clkhash ignores is accepted" -- "$pprl" encode --schema ck_leftover.json --secret-file ck.secret --in ck.csv --out ck_left.pprl
check "with a note naming it" -- grep -q "note: /clkConfig/k is ignored" err.txt
check "and the same CLKs" -- cmp -s <(tail -c +257 ck.pprl) <(tail -c +257 ck_left.pprl)
python3 -c "import json; s = json.load(open('ck_schema.json')); s['features'][1]['format']['shiny'] = 1; json.dump(s, open('ck_bad.json', 'w'))"
expect 3 "a key clkhash refuses is refused" -- "$pprl" encode --schema ck_bad.json --secret-file ck.secret --in ck.csv --out ck2.pprl
check "message names the option" -- grep -q "/features/1/format/shiny" err.txt
check "no output for a refused schema" -- test ! -e ck2.pprl
# l = 1000 (clkhash allows it with doubleHash): stored padded, exported as clkhash's own 125 bytes.
python3 - "$src/tests/compat/vectors/length_1000.json" <<'PY'
import csv, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
with open("l1000.csv", "w", newline="", encoding="utf-8") as f:
    csv.writer(f).writerows([doc["columns"]] + doc["rows"])
json.dump(doc["schema"], open("l1000_schema.json", "w"))
open("l1000.secret", "w").write(doc["secret"])
json.dump({"clks": [c for c in doc["clks"] if c is not None]}, open("l1000_expected.json", "w"))
PY
chmod 600 l1000.secret
expect 0 "encode with l = 1000" -- "$pprl" encode --schema l1000_schema.json --secret-file l1000.secret --in l1000.csv --out l1000.pprl
expect 0 "inspect a 1000-bit file" -- "$pprl" inspect l1000.pprl --json
check "which says 1000 bits" -- grep -q '"filter_bits": 1000' out.txt
expect 0 "export it" -- "$pprl" export l1000.pprl --format clkhash-json --out l1000.json
check "exactly clkhash's bytes" -- python3 -c "import json,sys; sys.exit(json.load(open('l1000.json')) != json.load(open('l1000_expected.json')))"
expect 0 "import clkhash's 1000-bit CLKs" -- "$pprl" import l1000_expected.json --bits 1000 --out l1000_back.pprl
expect 0 "and export them again" -- "$pprl" export l1000_back.pprl --format clkhash-json --out l1000_back.json
check "byte for byte" -- cmp -s l1000.json l1000_back.json
expect 0 "match 1000-bit files" -- "$pprl" match l1000.pprl l1000_back.pprl --threshold 1 --out l1000_pairs.csv
check "every filter finds its copy" -- test "$(($(wc -l < l1000_pairs.csv) - 1))" -ge "$(python3 -c "import json; print(len(json.load(open('l1000.json'))['clks']))")"
expect 3 "import refuses 1000-bit CLKs as 1024 bits" -- "$pprl" import l1000_expected.json --bits 1024 --out l1000_bad.pprl
# pprl schema convert: a clkhash schema becomes a pprl schema over the same columns, printing what changed.
expect 0 "convert a clkhash schema" -- "$pprl" schema convert "$src/examples/clkhash_youth_schema.json" --out conv.json
check "prints the changes" -- grep -q "^pprl: change: hashing:" err.txt
expect 0 "the converted schema encodes the youth sample" -- "$pprl" encode --schema conv.json --secret-file k.key --in "$sample" --out conv.pprl --party city
python3 -c "import csv,sys; r=list(csv.reader(open(sys.argv[1]))); csv.writer(open('sample_upper.csv','w',newline='')).writerows([r[0]]+[[x[0]]+[v.upper() for v in x[1:]] for x in r[1:]])" "$sample"
expect 0 "and the same rows upper-cased" -- "$pprl" encode --schema conv.json --secret-file k.key --in sample_upper.csv --out conv_upper.pprl --party city
check "to the same filters" -- cmp -s <(tail -c +257 conv.pprl) <(tail -c +257 conv_upper.pprl)
expect 0 "convert to standard output" -- "$pprl" schema convert "$src/examples/clkhash_youth_schema.json" --out -
check "the same schema" -- cmp -s out.txt conv.json
expect 3 "a pprl schema is not a clkhash schema" -- "$pprl" schema convert "$schema" --out conv2.json
check "and nothing is written" -- test ! -e conv2.json
expect 2 "convert never overwrites its input" -- "$pprl" schema convert conv.json --out conv.json
expect 0 "convert clkhash's FEBRL tutorial schema (the README's worked example)" -- "$pprl" schema convert "$src/bench/clkhash_febrl_schema.json" --out febrl_pprl.json
check "the README shows exactly the changes it prints" -- bash -c 'while IFS= read -r line; do grep -qF -- "$line" "$0" || exit 1; done < err.txt' "$src/README.md"
printf '%s\r\n' "$(head -c -1 ck.secret)" > ck_crlf.secret; chmod 600 ck_crlf.secret
expect 0 "a secret saved with CRLF" -- "$pprl" encode --schema ck_schema.json --secret-file ck_crlf.secret --in ck.csv --out ck_crlf.pprl
check "is warned about, naming the byte" -- grep -q 'ends in whitespace (\\r)' err.txt

# Audit (agency side): statistics and attacks, exit codes for mismatched schema and bad input.
"$pprl" synth --people 1500 --seed 21 --out-dir aud_ref >/dev/null 2>&1
expect 0 "audit the city's encodings" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --report audit.html
check "audit reports the four attacks" -- bash -c "grep -q 'frequency alignment' out.txt && grep -q 'bit-pattern mining' out.txt && grep -q 'similarity clustering' out.txt && grep -q 'graph matching' out.txt"
check "and attacks every encoded field through the whole filter" -- bash -c "grep -q 'graph matching on first_name' out.txt && grep -q 'graph matching on last_name' out.txt && grep -q 'graph matching on zip' out.txt"
check "audit report is HTML with SVG" -- grep -q "<svg" audit.html
check "audit reports the five vulnerabilities" -- bash -c "grep -q 'vulnerability (' out.txt && grep -q 'similarity neighbourhood' audit.html"
expect 0 "audit with groups" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --groups syn/truth.csv --json
check "gives the vulnerabilities per group" -- python3 -c "import json; v = json.load(open('out.txt'))['targets'][0]['vulnerabilities']; exit(not (len(v) > 2 and v[0]['group'] == '' and sum(g['records'] for g in v[1:]) == v[0]['records'] and 'co-occurrence' in v[0]['measures']))"
expect 3 "audit with groups from a file without a group column" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --groups syn/city.csv
expect 0 "audit as JSON" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --json
check "audit JSON has statistics" -- grep -q '"bit_frequency_cv"' out.txt
cp out.txt audit_json_file.txt
expect 0 "audit reads the encoded rows from standard input" -- bash -c "\"$pprl\" audit s_city.pprl --schema \"$schema\" --plaintext aud_ref/city.csv --truth - --json < syn/city.csv"
check "with the same result" -- python3 -c "import json; a = json.load(open('out.txt')); b = json.load(open('audit_json_file.txt')); a.pop('file'); b.pop('file'); exit(a != b)"
expect 2 "audit refuses an overlap above 1" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth syn/city.csv --overlap 1.5
cut -d, -f1,2 aud_ref/city.csv > aud_ref_names.csv
expect 0 "audit with a reference of one field" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref_names.csv --truth syn/city.csv
check "runs the three attacks it can, saying why not the graph attack" -- bash -c "grep -q 'similarity clustering' out.txt && ! grep -q 'graph matching' out.txt && grep -q 'graph matching needs every encoded field' err.txt"
expect 2 "audit --tradeoff needs the encoded rows" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --tradeoff
head -801 syn/city.csv > trade_city.csv
"$pprl" encode --schema "$schema" --secret-file k.key --in trade_city.csv --out trade_city.pprl >/dev/null 2>&1
expect 0 "audit --tradeoff" -- "$pprl" audit trade_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --truth trade_city.csv --tradeoff --json --report trade.html
check "compares the hardenings, the schema's own first and equal to its own step" -- python3 -c "
import json; t = json.load(open('out.txt'))['tradeoff']; names = [p['hardening'] for p in t]
given, same = t[0], t[names.index('diffusion t=3')]
assert names[0] == 'as given' and {'none', 'balance', 'diffusion t=3', 'salt dob year', 'salt + balance'} <= set(names), names
assert all(k in given and given[k] == same[k] for k in ('f1', 'threshold', 'reidentified', 'attack')), (given, same)
assert all(0.5 < p['f1'] <= 1 and 0 <= p['reidentified'] <= 1 and p['attack'] for p in t), t
assert t[names.index('balance')]['bits'] == 2048
"
check "and charts them in the report" -- grep -q "Privacy and linkage quality" trade.html
"$pprl" encode --schema "$seg_schema" --secret-file k.key --in trade_city.csv --out trade_seg.pprl >/dev/null 2>&1
expect 0 "audit --tradeoff on a segmented layout" -- "$pprl" audit trade_seg.pprl --schema "$seg_schema" --plaintext aud_ref/city.csv --truth trade_city.csv --tradeoff --json
check "offers only the hardenings segments allow, and attacks the segments" -- python3 -c "
import json; t = json.load(open('out.txt'))['tradeoff']; names = [p['hardening'] for p in t]
assert 'balance' not in names and 'blip eps=2' in names and 'none' in names, names
assert any('segment' in p['target'] for p in t), t
"
expect 4 "audit refuses another schema's file" -- "$pprl" audit ck.pprl --schema "$schema" --plaintext aud_ref/city.csv
expect 3 "audit without the field in the plaintext" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext syn/truth.csv
expect 2 "audit of an unknown field" -- "$pprl" audit s_city.pprl --schema "$schema" --plaintext aud_ref/city.csv --field shoe_size
expect 0 "audit segmented encodings: every single-field segment and the whole filter" -- "$pprl" audit g_city.pprl --schema "$seg_schema" --plaintext aud_ref/city.csv --truth syn/city.csv --json
check "one target per single-field segment (six) and every field on the whole filter (six)" -- test "$(grep -c '"target"' out.txt)" = 12
check "the first name segment is attacked on its own" -- grep -q '"target": "segment first_name"' out.txt
expect 0 "audit one field's segment" -- "$pprl" audit g_city.pprl --schema "$seg_schema" --plaintext aud_ref/city.csv --truth syn/city.csv --field last_name --report seg_audit.html
check "the segment and the whole filter" -- bash -c "grep -q 'last_name (segment last_name)' out.txt && grep -q 'last_name (whole filter)' out.txt"
check "the report summarises both" -- grep -q "Summary" seg_audit.html

# Hostile input: every case a documented exit code, no signal, no echo, no file replaced or left.
no_temporaries() { ! ls ./*.tmp.* >/dev/null 2>&1; }
# Header fields rewritten with a valid header checksum (XXH3 through libxxhash): lying sizes.
python3 - <<'PY'
import ctypes, struct
xxh = ctypes.CDLL("libxxhash.so.0")
xxh.XXH3_64bits.restype = ctypes.c_uint64
xxh.XXH3_64bits.argtypes = [ctypes.c_char_p, ctypes.c_size_t]
good = open("a.pprl", "rb").read()
ids_offset = struct.unpack_from("<Q", good, 40)[0]
def lie(name, fields):
    data = bytearray(good)
    for offset, value in fields:
        struct.pack_into("<Q", data, offset, value)
    struct.pack_into("<Q", data, 248, xxh.XXH3_64bits(bytes(data[:248]), 248))
    open(name, "wb").write(bytes(data))
lie("lie_wrap.pprl", [(48, (2**64 - 1) - ids_offset - 31)])
lie("lie_records.pprl", [(24, 2**64 - 1)])
lie("lie_overlap.pprl", [(40, 256), (48, len(good) - 32 - 256)])
# A party label that is not UTF-8, under a valid header checksum.
data = bytearray(good)
struct.pack_into("<I", data, 60, 4)
data[112:116] = b"\xff\xfe\xc3\x28"
struct.pack_into("<Q", data, 248, xxh.XXH3_64bits(bytes(data[:248]), 248))
open("bad_label.pprl", "wb").write(bytes(data))
PY
expect 0 "inspect --json of a label that is not UTF-8" -- "$pprl" inspect bad_label.pprl --json
check "the label is printed with replacement characters" -- python3 -c "import json; json.load(open('out.txt'))"
long_name=$(python3 -c "print('é' * 40)")
expect 0 "a default party label cut at a character boundary" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out "$long_name.pprl"
expect 0 "inspect the cut label" -- "$pprl" inspect "$long_name.pprl" --json
check "the label is 32 whole characters" -- python3 -c "import json,sys; sys.exit(json.load(open('out.txt'))['party'] != 'é' * 32)"
for lie in lie_wrap lie_records lie_overlap; do
    expect 5 "$lie refused by inspect" -- "$pprl" inspect $lie.pprl
    expect 5 "$lie refused by match" -- "$pprl" match $lie.pprl b.pprl --out m_lie.csv
    expect 5 "$lie refused by link" -- "$pprl" link $lie.pprl b.pprl --out e_lie.csv
    expect 5 "$lie refused by export" -- "$pprl" export $lie.pprl --out x_lie.csv
done
check "nothing written for lying files" -- test ! -e m_lie.csv -a ! -e e_lie.csv -a ! -e x_lie.csv

mkfifo fifo.key
expect 5 "a FIFO as the secret file is refused at once" -- timeout 20 "$pprl" encode --schema "$schema" --secret-file fifo.key --in "$sample" --out f.pprl
expect 5 "/dev/zero as the secret file" -- "$pprl" encode --schema "$schema" --secret-file /dev/zero --in "$sample" --out f.pprl
expect 5 "/dev/zero as the schema" -- "$pprl" encode --schema /dev/zero --secret-file k.key --in "$sample" --out f.pprl
expect 5 "/dev/zero as the CSV" -- "$pprl" encode --schema "$schema" --secret-file k.key --in /dev/zero --out f.pprl
expect 5 "/dev/urandom as import input" -- "$pprl" import /dev/urandom --bits 1024 --out f.pprl
mkdir -p a_directory
expect 5 "a directory as the secret file" -- "$pprl" encode --schema "$schema" --secret-file a_directory --in "$sample" --out f.pprl
expect 5 "a directory as the schema" -- "$pprl" encode --schema a_directory --secret-file k.key --in "$sample" --out f.pprl
check "no output after refused inputs" -- test ! -e f.pprl
head -c 300000 /dev/zero | tr '\0' 'a' > long_line.csv
{ head -1 "$sample"; head -c 17000000 /dev/zero | tr '\0' 'x'; printf '\n'; tail -n +2 "$sample"; } > overlong.csv
expect 0 "a 17 MB record is rejected, the others encode" -- "$pprl" encode --schema "$schema" --secret-file k.key --in overlong.csv --out overlong.pprl
check "the overlong record is reported" -- grep -q "longer than 16 MiB" err.txt

printf '{"pprl_schema": 4294967297, "fields": [{"name": "a"}]}' > s_wrap.json
expect 3 "schema version beyond 32 bits" -- "$pprl" encode --schema s_wrap.json --secret-file k.key --in "$sample" --out f.pprl
printf '{"pprl_schema": 1e400, "fields": [{"name": "a"}]}' > s_inf.json
expect 3 "a JSON number out of range" -- "$pprl" encode --schema s_inf.json --secret-file k.key --in "$sample" --out f.pprl
printf '{"pprl_schema": 1, "fields": [{"name": "n", "type": "integer", "min": 18446744073709551615}]}' > s_min.json
expect 3 "an integer beyond int64" -- "$pprl" encode --schema s_min.json --secret-file k.key --in "$sample" --out f.pprl

for t in nan -0.5 2 0.7xyz abc; do
    expect 2 "evaluate --threshold $t" -- "$pprl" evaluate --truth syn/truth.csv --pairs pairs_generic.csv --parties city,schools --threshold "$t"
done
for k in -1 0 18446744073709551616 1x; do
    expect 2 "match --top-k $k" -- "$pprl" match a.pprl b.pprl --top-k "$k" --out m_k.csv
done
expect 2 "link --blocking lsh:-1,24" -- "$pprl" link a.pprl b.pprl --blocking lsh:-1,24 --out e_k.csv
check "nothing written for refused options" -- test ! -e m_k.csv -a ! -e e_k.csv
printf 'party,record_id,entity_id\ncity,1\n' > short_entities.csv
expect 3 "entities row shorter than its header" -- "$pprl" evaluate --truth syn/truth.csv --entities short_entities.csv
printf 'party_a,a_id,party_b,b_id,score,linked\ncity,1,schools,2,0.9\n' > short_pairs.csv
expect 3 "pairs row without its linked column" -- "$pprl" evaluate --truth syn/truth.csv --pairs short_pairs.csv

# No personal value or key in any message.
{ echo "Lee,Lee,Smith"; echo "1,2,3"; } > no_header.csv
expect 3 "a first row of values read as a header" -- "$pprl" encode --schema "$schema" --secret-file k.key --in no_header.csv --out f.pprl
check "the repeated value is not echoed" -- bash -c "! grep -q Lee err.txt"
expect 5 "a key given as the secret file's path" -- "$pprl" encode --schema "$schema" --secret-file "$key_hex" --in "$sample" --out f.pprl
check "the key is not echoed (path)" -- bash -c "! grep -q '$key_hex' err.txt out.txt"
expect 2 "a key given as an unknown option" -- "$pprl" encode --schema "$schema" --key "$key_hex" --in "$sample" --out f.pprl
check "the key is not echoed (unknown option)" -- bash -c "! grep -q '$key_hex' err.txt out.txt"
expect 2 "a key given as an extra argument" -- "$pprl" match a.pprl b.pprl "$key_hex" --out m_x.csv
check "the key is not echoed (extra argument)" -- bash -c "! grep -q '$key_hex' err.txt out.txt"

# Outputs never replace an input or the key; a failed command leaves nothing.
cp a.pprl a_copy.pprl
expect 2 "match --out over its input" -- "$pprl" match a_copy.pprl b.pprl --out a_copy.pprl
check "the input is unchanged" -- cmp -s a.pprl a_copy.pprl
cp "$sample" plain.csv
expect 2 "encode --out over the plaintext" -- "$pprl" encode --schema "$schema" --secret-file k.key --in plain.csv --out plain.csv
check "the plaintext is unchanged" -- cmp -s "$sample" plain.csv
cp k.key k_copy.key
expect 2 "encode --rejects over the key" -- "$pprl" encode --schema "$schema" --secret-file k_copy.key --in "$sample" --out f.pprl --rejects k_copy.key
check "the key is unchanged" -- cmp -s k.key k_copy.key
ln -sf a_copy.pprl link_to_input.pprl
expect 2 "link --out through a symlink to an input" -- "$pprl" link a_copy.pprl b.pprl --out link_to_input.pprl
check "the linked input is unchanged" -- cmp -s a.pprl a_copy.pprl
cp syn/truth.csv truth_copy.csv
expect 2 "evaluate --report over the truth" -- "$pprl" evaluate --truth truth_copy.csv --entities ent.csv --report truth_copy.csv
check "the truth is unchanged" -- cmp -s syn/truth.csv truth_copy.csv
expect 5 "encode into a missing directory with --rejects" -- "$pprl" encode --schema "$schema" --secret-file k.key --in "$sample" --out /nonexistent/x.pprl --rejects rej_side.csv
check "no rejects file when the encoding failed" -- test ! -e rej_side.csv
expect 3 "link with a bad truth file" -- "$pprl" link a.pprl b.pprl --out ent_bad.csv --pairs-out pairs_bad.csv --truth bad_truth.csv
check "no outputs when the truth is bad" -- test ! -e ent_bad.csv -a ! -e pairs_bad.csv
expect 0 "output to /dev/null is written through" -- "$pprl" match a.pprl b.pprl --out /dev/null
check "/dev/null is still a device" -- test -c /dev/null
ln -sf real_pairs.csv pairs_link.csv
expect 0 "output through a symlink" -- "$pprl" match a.pprl b.pprl --out pairs_link.csv
check "the link still links, to the written file" -- test -L pairs_link.csv -a -s real_pairs.csv
# SIGTERM while an output is half written: the CSV comes through a FIFO that stalls after the
# header, so the encoder is certainly mid-run (its temporary output exists) when the signal comes.
mkfifo stalled.csv
( head -1 "$sample"; exec sleep 30 ) > stalled.csv 2>/dev/null &
feeder=$!
"$pprl" encode --schema "$schema" --secret-file k.key --in stalled.csv --out stalled.pprl >/dev/null 2>&1 &
encoder=$!
for _ in $(seq 50); do ls stalled.pprl.tmp.* >/dev/null 2>&1 && break; sleep 0.1; done
check "the temporary output exists mid-run" -- bash -c "ls stalled.pprl.tmp.* >/dev/null 2>&1"
kill -TERM $encoder
wait $encoder
status=$?
kill $feeder 2>/dev/null; wait $feeder 2>/dev/null
check "SIGTERM exits 5, not by the signal (exit $status)" -- test $status -eq 5
check "no temporary file left after SIGTERM" -- no_temporaries
check "no output after SIGTERM" -- test ! -e stalled.pprl
check "no temporary file left anywhere" -- no_temporaries
# The registry: ingest, link, export, history, events, verify, backup, forget, and the refusals.
partition() {  # the partition of an entities CSV, as sorted lines of sorted members
    python3 -c '
import csv, sys
groups = {}
for row in csv.DictReader(open(sys.argv[1])):
    groups.setdefault(row["entity_id"], []).append(row["party"] + ":" + row["record_id"])
print("\n".join(sorted(" ".join(sorted(m)) for m in groups.values())))' "$1"
}
expect 0 "registry init" -- "$pprl" registry init hub.db
expect 2 "registry init never replaces a file" -- "$pprl" registry init hub.db
expect 2 "registry ingest with a bad date" -- "$pprl" registry ingest hub.db s_city.pprl --party city --as-of 2025-02-30
expect 2 "registry ingest with a date whose month is not two digits" -- "$pprl" registry ingest hub.db s_city.pprl --party city --as-of 2025-9--01
for party in city schools promise; do
    expect 0 "registry ingest $party" -- "$pprl" registry ingest hub.db s_$party.pprl --party $party --as-of 2025-09-01 --label fall
done
expect 0 "registry ingest of the same file again" -- "$pprl" registry ingest hub.db s_city.pprl --party city --as-of 2025-09-02
check "says it was already ingested" -- grep -q "already ingested" err.txt
expect 4 "registry refuses an extract under another key" -- "$pprl" registry ingest hub.db other.pprl --party other --as-of 2025-09-01
head -c 1000 s_city.pprl > cut.pprl
expect 5 "registry refuses a truncated extract" -- "$pprl" registry ingest hub.db cut.pprl --party cut --as-of 2025-09-01
expect 0 "registry link" -- "$pprl" registry link hub.db --threshold 0.75
expect 0 "registry export" -- "$pprl" registry export hub.db --out reg.csv
check "export header" -- test "$(head -1 reg.csv)" = "party,record_id,entity_id,last_seen"
"$pprl" link s_city.pprl s_schools.pprl s_promise.pprl --threshold 0.75 --model record --out batch.csv 2>/dev/null
check "registry link gives batch link's partition" -- cmp -s <(partition reg.csv) <(partition batch.csv)
entity=$(sed -n 2p reg.csv | cut -d, -f3)
record=$(sed -n 2p reg.csv | cut -d, -f2)
expect 0 "registry history of an entity" -- "$pprl" registry history hub.db --entity "$entity"
check "history names the entity's records" -- grep -q "city,$record,$entity" out.txt
expect 0 "registry history of a record" -- "$pprl" registry history hub.db --record "city:$record"
expect 2 "registry history needs one of --entity, --record" -- "$pprl" registry history hub.db
expect 0 "registry events as JSON" -- "$pprl" registry events hub.db --json
check "events are JSON with the ingests and the link" -- python3 -c '
import json, sys
kinds = [e["kind"] for e in json.load(open("out.txt"))]
sys.exit(not (kinds[0] == "INIT" and kinds.count("INGEST") == 3 and "LINK" in kinds))'
expect 0 "registry verify" -- "$pprl" registry verify hub.db
check "verify says sound" -- grep -q "^sound" out.txt
expect 0 "registry backup" -- "$pprl" registry backup hub.db hub_copy.db
expect 2 "registry backup never replaces a file" -- "$pprl" registry backup hub.db s_city.pprl
expect 0 "the backup verifies" -- "$pprl" registry verify hub_copy.db
expect 0 "registry forget" -- "$pprl" registry forget hub.db --party city --record-id "$record"
check "forget does not echo the record id" -- bash -c "! grep -q -- '$record' err.txt"
expect 2 "registry forget of an unknown record" -- "$pprl" registry forget hub.db --party city --record-id "$record"
expect 0 "registry export after forget" -- "$pprl" registry export hub.db --out reg2.csv
check "the erased record is gone" -- bash -c "! grep -q '^city,$record,' reg2.csv"
expect 0 "registry export as of before the first link" -- "$pprl" registry export hub.db --out old.csv --as-of 2025-08-31
check "nothing was linked then" -- test "$(wc -l < old.csv)" = 1
expect 2 "registry export does not replace the registry" -- "$pprl" registry export hub.db --out hub.db
expect 5 "a missing registry" -- "$pprl" registry verify nowhere.db
expect 5 "a file that is not a registry" -- "$pprl" registry verify s_city.pprl
python3 -c 'import sqlite3; c = sqlite3.connect("hub_copy.db"); c.execute("PRAGMA user_version = 7"); c.commit()'
expect 5 "a registry from a newer pprl" -- "$pprl" registry export hub_copy.db --out x.csv
check "says so" -- grep -q "newer pprl" err.txt
check "and writes nothing" -- test ! -e x.csv
# Two years through a registry: evaluate reports id stability, 100% where entities kept their members.
expect 0 "synth --years" -- "$pprl" synth --people 1500 --seed 4 --years 2 --out-dir years
check "one directory per year" -- test -s years/2025/city.csv -a -s years/2026/truth.csv
"$pprl" registry init years.db 2>/dev/null
for year in 2025 2026; do
    for party in city schools promise; do
        "$pprl" encode --schema "$schema" --secret-file k.key --in years/$year/$party.csv --out years/$year/$party.pprl --party $party 2>/dev/null
        "$pprl" registry ingest years.db years/$year/$party.pprl --party $party --as-of $year-01-15 2>/dev/null
    done
    "$pprl" registry link years.db --threshold 0.7 2>/dev/null
    "$pprl" registry export years.db --out years/$year/entities.csv 2>/dev/null
done
expect 0 "evaluate id stability" -- "$pprl" evaluate --truth years/2026/truth.csv --entities years/2026/entities.csv --previous-entities years/2025/entities.csv --previous-truth years/2025/truth.csv --by group
check "every person whose entities kept their members kept the id" -- grep -q "whose entities kept the same members: .* (100.00%)" out.txt
check "and the second year refreshed only what changed" -- bash -c "\"$pprl\" registry events years.db | grep -q 'LINK.*moved'"
# kill -9 at random moments of ingest and link: the registry is as before the command, or as after it.
"$pprl" synth --people 8000 --seed 5 --out-dir big >/dev/null 2>&1
for party in city schools; do
    "$pprl" encode --schema "$schema" --secret-file k.key --in big/$party.csv --out big_$party.pprl --party $party 2>/dev/null
done
"$pprl" registry init crash_base.db 2>/dev/null
"$pprl" registry ingest crash_base.db big_city.pprl --party city --as-of 2025-09-01 2>/dev/null
dump() { python3 -c '
import sqlite3, sys
for line in sqlite3.connect(sys.argv[1]).iterdump(): print(line)' "$1"; }
dump crash_base.db > before_ingest.sql
cp crash_base.db crash_done.db
"$pprl" registry ingest crash_done.db big_schools.pprl --party schools --as-of 2025-09-01 2>/dev/null
"$pprl" registry link crash_done.db --threshold 0.75 2>/dev/null
"$pprl" registry export crash_done.db --out crash_expected.csv 2>/dev/null
interrupted=0
for trial in $(seq 12); do
    rm -f crash.db crash.db-wal crash.db-shm
    cp crash_base.db crash.db
    "$pprl" registry ingest crash.db big_schools.pprl --party schools --as-of 2025-09-01 >/dev/null 2>&1 &
    pid=$!
    sleep "0.0$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null && interrupted=$((interrupted + 1))
    wait $pid 2>/dev/null
    "$pprl" registry verify crash.db >/dev/null 2>&1 || { echo "FAIL: registry unsound after kill -9 during ingest (trial $trial)"; failures=$((failures + 1)); }
    extracts=$(python3 -c 'import sqlite3, sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT COUNT(*) FROM extracts").fetchone()[0])' crash.db)
    if [[ $extracts == 1 ]]; then
        check "an interrupted ingest leaves the registry as it was (trial $trial)" -- cmp -s <(dump crash.db) before_ingest.sql
        "$pprl" registry ingest crash.db big_schools.pprl --party schools --as-of 2025-09-01 >/dev/null 2>&1
    fi
    dump crash.db > before_link.sql
    "$pprl" registry link crash.db --threshold 0.75 >/dev/null 2>&1 &
    pid=$!
    sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
    kill -9 $pid 2>/dev/null && interrupted=$((interrupted + 1))
    wait $pid 2>/dev/null
    "$pprl" registry verify crash.db >/dev/null 2>&1 || { echo "FAIL: registry unsound after kill -9 during link (trial $trial)"; failures=$((failures + 1)); }
    "$pprl" registry export crash.db --out crash.csv >/dev/null 2>&1
    if [[ $(wc -l < crash.csv) == 1 ]]; then
        check "an interrupted link leaves the registry as it was (trial $trial)" -- cmp -s <(dump crash.db) before_link.sql
        "$pprl" registry link crash.db --threshold 0.75 >/dev/null 2>&1  # killed before it committed: nothing linked
        "$pprl" registry export crash.db --out crash.csv >/dev/null 2>&1
    fi
    check "after the kill and a rerun, the entities are a whole link's (trial $trial)" -- cmp -s <(partition crash.csv) <(partition crash_expected.csv)
done
echo "cli: registry: $interrupted of 24 kill -9 signals came mid-command"
check "some of the kills came mid-command" -- test $interrupted -gt 0
# Regular expressions: a 200,000-character value against the shipped clkhash pattern schema.
python3 - "$src/tests/compat/vectors/string_validation.json" <<'PY'
import csv, json, sys
doc = json.load(open(sys.argv[1], encoding="utf-8"))
json.dump(doc["schema"], open("sv_schema.json", "w"))
open("sv.secret", "w").write(doc["secret"])
with open("sv.csv", "w", newline="", encoding="utf-8") as f:
    w = csv.writer(f)
    w.writerow(doc["columns"])
    row = list(doc["rows"][0])
    for i in range(1, len(row)):
        row[i] = "a" * 200000
    w.writerow(row)
PY
chmod 600 sv.secret
expect 0 "a 200,000-character value against clkhash patterns" -- "$pprl" encode --schema sv_schema.json --secret-file sv.secret --in sv.csv --out sv.pprl

echo "cli: $passes passed, $failures failed"
[[ $failures -eq 0 ]]
