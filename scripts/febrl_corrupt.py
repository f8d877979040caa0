#!/usr/bin/env python3
"""A second population with an error model pprl does not generate: FEBRL-style corruption.

Takes the people of a `pprl synth` directory (one record per person: the first of theirs found in
the party files, in party order), writes them as party `orig` and one corrupted duplicate of a share
of them into party `dup`, in the manner of FEBRL's generator (Christen 2005): per duplicate one to
four modifications, each picking a field and one
of: character insert / delete / substitute / transpose (neighbouring keys on a QWERTY keyboard for
substitutions), OCR confusion, phonetic replacement, a blank (missing) value, a swap of first and
last name, a day/month swap or a +-1 change in a date part, or a value from another person. The
truth file names the person of every record, with the group pprl synth gave them.

Usage: febrl_corrupt.py SYNTH_DIR OUT_DIR [--seed N] [--duplicate-share 0.6]
"""
import argparse
import csv
import random
from pathlib import Path

FIELDS = ["first_name", "last_name", "dob", "sex", "address", "zip"]
KEYBOARD = ["qwertyuiop", "asdfghjkl", "zxcvbnm"]
OCR = [("m", "rn"), ("l", "1"), ("o", "0"), ("s", "5"), ("b", "6"), ("g", "9"), ("i", "l"), ("e", "c"), ("h", "b")]
PHONETIC = [("ph", "f"), ("ck", "k"), ("y", "i"), ("ie", "y"), ("z", "s"), ("ll", "l"), ("th", "t"), ("ou", "u"),
            ("c", "k"), ("v", "w")]


def neighbours(ch):
    lower = ch.lower()
    for r, row in enumerate(KEYBOARD):
        c = row.find(lower)
        if c < 0:
            continue
        near = [row[i] for i in (c - 1, c + 1) if 0 <= i < len(row)]
        for other in (r - 1, r + 1):
            if 0 <= other < len(KEYBOARD) and c < len(KEYBOARD[other]):
                near.append(KEYBOARD[other][c])
        return near
    return list("aeiou")


def typo(rng, value):
    if not value:
        return value
    i = rng.randrange(len(value))
    kind = rng.choice(["insert", "delete", "substitute", "transpose"])
    if kind == "insert":
        return value[:i] + rng.choice(neighbours(value[i])) + value[i:]
    if kind == "delete" and len(value) > 1:
        return value[:i] + value[i + 1:]
    if kind == "transpose" and len(value) > 1:
        i = min(i, len(value) - 2)
        return value[:i] + value[i + 1] + value[i] + value[i + 2:]
    return value[:i] + rng.choice(neighbours(value[i])) + value[i + 1:]


def replace_one(rng, value, table):
    options = [(a, b) for a, b in table if a in value.lower()]
    if not options:
        return typo(rng, value)
    a, b = rng.choice(options)
    at = value.lower().find(a)
    return value[:at] + b + value[at + len(a):]


def change_date(rng, value):
    parts = value.split("-")
    if len(parts) != 3:
        return typo(rng, value)
    y, m, d = parts
    kind = rng.choice(["swap", "day", "month", "year"])
    if kind == "swap" and int(d) <= 12:
        return f"{y}-{d}-{m}"
    if kind == "day":
        return f"{y}-{m}-{max(1, min(28, int(d) + rng.choice([-1, 1]))):02d}"
    if kind == "month":
        return f"{y}-{max(1, min(12, int(m) + rng.choice([-1, 1]))):02d}-{d}"
    return f"{int(y) + rng.choice([-1, 1])}-{m}-{d}"


def corrupt(rng, record, people):
    out = dict(record)
    modifications = rng.choices([1, 2, 3, 4], weights=[0.45, 0.30, 0.15, 0.10])[0]
    for _ in range(modifications):
        field = rng.choices(FIELDS, weights=[0.25, 0.25, 0.2, 0.03, 0.2, 0.07])[0]
        value = out[field]
        kind = rng.choices(["typo", "ocr", "phonetic", "missing", "swap", "other"],
                           weights=[0.45, 0.1, 0.15, 0.1, 0.05, 0.15])[0]
        if kind == "missing":
            out[field] = ""
        elif kind == "swap" and field in ("first_name", "last_name"):
            out["first_name"], out["last_name"] = out["last_name"], out["first_name"]
        elif kind == "other" and field in ("address", "zip"):
            donor = rng.choice(people)  # moved: another person's address
            out["address"], out["zip"] = donor["address"], donor["zip"]
        elif field == "dob":
            out[field] = change_date(rng, value)
        elif field == "sex":
            out[field] = rng.choice(["F", "M"])
        elif kind == "ocr":
            out[field] = replace_one(rng, value, OCR)
        elif kind == "phonetic":
            out[field] = replace_one(rng, value, PHONETIC)
        else:
            out[field] = typo(rng, value)
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("synth_dir")
    parser.add_argument("out_dir")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--duplicate-share", type=float, default=0.6)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    source = Path(args.synth_dir)
    truth = {}
    with open(source / "truth.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            truth[(row["party"], row["record_id"])] = (row["person_id"], row["group"])
    people, seen = [], set()
    for party in ("city", "schools", "promise"):
        path = source / f"{party}.csv"
        if not path.exists():
            continue
        with open(path, newline="", encoding="utf-8") as f:
            for row in csv.DictReader(f):
                person, group = truth[(party, row["record_id"])]
                if person in seen:
                    continue
                seen.add(person)
                people.append({"person": person, "group": group, **{k: row[k] for k in FIELDS}})
    out = Path(args.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    header = ["record_id"] + FIELDS
    with open(out / "orig.csv", "w", newline="", encoding="utf-8") as o, \
            open(out / "dup.csv", "w", newline="", encoding="utf-8") as d, \
            open(out / "truth.csv", "w", newline="", encoding="utf-8") as t:
        wo, wd, wt = csv.writer(o), csv.writer(d), csv.writer(t)
        wo.writerow(header)
        wd.writerow(header)
        wt.writerow(["party", "record_id", "person_id", "group"])
        dup_rows = []
        for i, person in enumerate(people):
            rid = f"orig-{i + 1:07d}"
            wo.writerow([rid] + [person[k] for k in FIELDS])
            wt.writerow(["orig", rid, person["person"], person["group"]])
            if rng.random() < args.duplicate_share:
                dup_rows.append((person, corrupt(rng, person, people)))
        rng.shuffle(dup_rows)
        for j, (person, record) in enumerate(dup_rows):
            rid = f"dup-{j + 1:07d}"
            wd.writerow([rid] + [record[k] for k in FIELDS])
            wt.writerow(["dup", rid, person["person"], person["group"]])


if __name__ == "__main__":
    main()
