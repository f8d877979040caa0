#!/usr/bin/env python3
"""Linkage quality against population size, for the hub's models, in one run.

For each population size: `pprl synth`, then every party encoded twice (examples/youth_schema.json,
a record-level CLK, and examples/youth_schema_segmented.json, one segment per field), then

  record, best   the record-level model at the threshold with the best F1 (a sweep around the
                 automatic threshold; needs the truth)
  record, auto   the record-level model with --threshold auto
  fs, auto       the Fellegi-Sunter model on the segmented encodings with --threshold auto (names
                 salted with the year of birth, as the example schema has them)
  fs unsalted    the same on segmented encodings without the salt (the schema with its salts removed)

each evaluated against the truth: F1 overall, the lowest group F1 and the largest gap between a
group and the overall F1 (groups of `pprl synth`), and the link time. With --febrl, the same on a
second population: the synthetic people corrupted by scripts/febrl_corrupt.py, an error model pprl
does not generate (two parties: the clean originals and corrupted duplicates of 60% of them).

Usage: quality_at_scale.py PPRL_BINARY WORK_DIR [--sizes 5000,20000,50000,200000] [--febrl] [--seed N]
Prints a Markdown table; writes WORK_DIR/quality.json.
"""
import argparse
import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS = {"record": ROOT / "examples" / "youth_schema.json", "fs": ROOT / "examples" / "youth_schema_segmented.json"}


def unsalted_schema(work):
    """The segmented example schema with its salts removed."""
    path = work / "segmented_unsalted.json"
    schema = json.loads(SCHEMAS["fs"].read_text())
    for field in schema["fields"]:
        field.pop("salt", None)
    path.write_text(json.dumps(schema))
    return path


def run(args, env=None, may_be_killed=False):
    """Runs a command; exits on failure, or returns None when `may_be_killed` and the kernel's
    out-of-memory killer stopped it (a threshold too low for all its pairs to fit in memory)."""
    done = subprocess.run(args, capture_output=True, text=True, env=env)
    if done.returncode == -9 and may_be_killed:
        return None
    if done.returncode != 0:
        sys.exit(f"{' '.join(map(str, args))} failed ({done.returncode}):\n{done.stderr}")
    return done


def evaluate(pprl, truth, entities, work):
    out = work / "eval.json"
    run([pprl, "evaluate", "--truth", truth, "--entities", entities, "--by", "group", "--json", out])
    doc = json.loads(out.read_text())["entities"]
    return doc["overall"]["f1"], {group: figures["f1"] for group, figures in doc["groups"].items()}


def link(pprl, files, work, *options, may_be_killed=False):
    out = work / "entities.csv"
    if out.exists():
        out.unlink()
    start = time.perf_counter()
    done = run([pprl, "link", *files, "--out", out, *options], may_be_killed=may_be_killed)
    if done is None:
        return None
    seconds = time.perf_counter() - start
    linked = re.search(r"linked in ([0-9.]+) s", done.stderr)
    threshold = re.search(r"threshold (?:auto: )?([0-9.]+)", done.stderr)
    return out, float(linked.group(1)) if linked else seconds, float(threshold.group(1)) if threshold else None


def measure(pprl, work, parties, truth, key, people):
    encoded = {}
    schemas = {**SCHEMAS, "fs_unsalted": unsalted_schema(work)}
    for model, schema in schemas.items():
        encoded[model] = []
        for party in parties:
            path = work / f"{party}.{model}.pprl"
            if not path.exists():
                run([pprl, "encode", "--schema", schema, "--in", work / f"{party}.csv", "--party", party, "--out", path],
                    env={**os.environ, "PPRL_SECRET_FILE": str(key)})
            encoded[model].append(path)
    rows = {}
    for name, files, model in (("record, auto", "record", "record"), ("fs, auto", "fs", "fs"),
                               ("fs unsalted, auto", "fs_unsalted", "fs")):
        entities, seconds, threshold = link(pprl, encoded[files], work, "--model", model)
        f1, groups = evaluate(pprl, truth, entities, work)
        rows[name] = (f1, groups, seconds, threshold)
    # The record-level model's best threshold: a sweep in steps of 0.025 over 0.1 either side of the
    # automatic one (not below 0.4, nor below 0.525 from 100,000 people). A threshold whose pairs do
    # not fit in memory is skipped; the best is then a lower bound, marked by `memory_floor` (the
    # lowest threshold that ran).
    estimate = rows["record, auto"][3]
    low = max(0.4 if people < 100_000 else 0.525, round((estimate - 0.1) / 0.025) * 0.025)
    best, memory_floor = None, None
    for step in range(0, 9):
        threshold = f"{low + 0.025 * step:.3f}"
        linked = link(pprl, encoded["record"], work, "--model", "record", "--threshold", threshold,
                      may_be_killed=True)
        if linked is None:
            memory_floor = low + 0.025 * (step + 1)
            continue
        f1, groups = evaluate(pprl, truth, linked[0], work)
        if best is None or f1 > best[0]:
            best = (f1, groups, linked[1], float(threshold))
    rows = {"record, best": best, **rows}
    return rows, memory_floor


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("pprl")
    parser.add_argument("work")
    parser.add_argument("--sizes", default="5000,20000,50000,200000")
    parser.add_argument("--febrl", action="store_true")
    parser.add_argument("--seed", type=int, default=11)
    args = parser.parse_args()
    pprl = str(Path(args.pprl).resolve())
    work = Path(args.work)
    work.mkdir(parents=True, exist_ok=True)
    key = work / "key.hex"
    if not key.exists():
        run([pprl, "keygen", "--out", key])
    results = []
    for people in [int(s) for s in args.sizes.split(",")]:
        populations = [("synth", work / f"synth{people}", ["city", "schools", "promise"])]
        if args.febrl:
            populations.append(("febrl-style", work / f"febrl{people}", ["orig", "dup"]))
        synth_dir = populations[0][1]
        if not (synth_dir / "truth.csv").exists():
            run([pprl, "synth", "--people", str(people), "--seed", str(args.seed), "--out-dir", synth_dir])
        if args.febrl and not (populations[1][1] / "truth.csv").exists():
            run([sys.executable, ROOT / "scripts" / "febrl_corrupt.py", synth_dir, populations[1][1],
                 "--seed", str(args.seed)])
        for name, directory, parties in populations:
            rows, memory_floor = measure(pprl, directory, parties, directory / "truth.csv", key, people)
            if memory_floor is not None:
                print(f"{name} {people}: thresholds below {memory_floor:.3f} did not fit in memory; "
                      f"record, best is the best from there up", file=sys.stderr)
            for setting, (f1, groups, seconds, threshold) in rows.items():
                worst = min(groups, key=groups.get) if groups else ""
                gap = max((abs(g - f1) for g in groups.values()), default=0.0)
                results.append({"population": name, "people": people, "setting": setting, "f1": f1,
                                "sweep_memory_floor": memory_floor if setting == "record, best" else None,
                                "threshold": threshold, "worst_group": worst, "worst_group_f1": groups.get(worst),
                                "largest_gap": gap, "link_seconds": seconds, "groups": groups})
                print(f"{name} {people} {setting}: F1 {f1:.4f} (threshold {threshold}), worst group {worst} "
                      f"{groups.get(worst, 0):.4f}, gap {gap:.4f}, link {seconds:.2f} s", file=sys.stderr)
    (work / "quality.json").write_text(json.dumps(results, indent=1))
    print("| population | people | model, threshold | threshold used | F1 | worst group (F1) | largest gap | link s |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        print(f"| {r['population']} | {r['people']:,} | {r['setting']} | {r['threshold']:.3f} | {r['f1']:.4f} | "
              f"{r['worst_group']} ({r['worst_group_f1']:.4f}) | {r['largest_gap']:.4f} | {r['link_seconds']:.2f} |")


if __name__ == "__main__":
    main()
