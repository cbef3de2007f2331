"""Re-measures the figures the README claims, from their record, and fails on any difference.

    python -m experiments.reproduce --list                 # the records, their cost and where the README shows them
    python -m experiments.reproduce --cheap                # the cheap records (CI runs these)
    python -m experiments.reproduce --only vae_digits      # some records by name
    python -m experiments.reproduce                        # every record
    python -m experiments.reproduce --check-readme         # no training: every recorded figure appears in README.md

Each record in `experiments/figures.json` says how a figure is produced and what it was when measured:

    {"name": ..., "what": ..., "readme_section": ..., "minutes": ..., "cheap": true|false,
     "workdir": NAME,                                # records naming one workdir share it (train once, eval twice)
     "commands": [[arg, ...], ...],                  # `python -m experiments.run` arguments, run in order
     "metrics": {key: {"value": v, "tolerance": t, "readme": "text as printed in the README"}}}

A command's result is the JSON object `experiments.run` prints on its last line (the 'test' evaluator's
metrics by their names, the others as `prefix/name`). A figure passes when |measured - recorded| <=
tolerance + 5e-5 (the printed results are rounded to 4 decimals). Deterministic runs are recorded with
tolerance 0: the same command on the same software gives the same bits. Workdirs live under `--root`
(default: a fresh temporary directory, removed at the end unless `--keep`); an existing workdir there is
resumed, so a second invocation with the same `--root` only re-evaluates.

`--check-readme` checks that each metric's `readme` text appears in the README section the record names,
so that the README cannot show a figure other than the recorded one (tests/test_reproduce.py runs it).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from typing import Dict, List

HERE = os.path.dirname(os.path.abspath(__file__))
RECORDS = os.path.join(HERE, "figures.json")
README = os.path.join(os.path.dirname(HERE), "README.md")
SLACK = 5e-5


class RecordError(ValueError):
    """A record that names something that does not exist (a config, a metric, a README section)."""


def load_records(path: str = RECORDS) -> List[dict]:
    with open(path) as f:
        records = json.load(f)
    names = [r["name"] for r in records]
    dup = {n for n in names if names.count(n) > 1}
    if dup:
        raise RecordError(f"{path}: duplicate record names {sorted(dup)}")
    for r in records:
        missing = {"name", "commands", "metrics", "readme_section", "minutes", "cheap"} - set(r)
        if missing:
            raise RecordError(f"{path}: record {r.get('name')!r} lacks {sorted(missing)}")
        for cmd in r["commands"]:
            configs = [a.split("=", 1)[1].split(":")[0] for a in cmd if a.startswith("--config=")]
            if len(configs) != 1:
                raise RecordError(f"record {r['name']!r}: each command needs one --config=FILE, got {cmd}")
            if not os.path.exists(os.path.join(os.path.dirname(HERE), configs[0])):
                raise RecordError(f"record {r['name']!r}: config file {configs[0]} does not exist")
            if any(a.startswith("--workdir") for a in cmd):
                raise RecordError(f"record {r['name']!r}: the workdir is chosen by reproduce, not the command")
    return records


def readme_sections(path: str = README) -> Dict[str, str]:
    """'## Title' and '### Title' headings -> the text up to the next heading of the same or a higher level."""
    sections = {}
    with open(path) as f:
        lines = f.read().splitlines()
    starts = [(i, len(line) - len(line.lstrip("#")), line.lstrip("#").strip())
              for i, line in enumerate(lines) if line.startswith("##")]
    for n, (i, level, title) in enumerate(starts):
        end = next((j for j, lv, _ in starts[n + 1:] if lv <= level), len(lines))
        sections[title] = "\n".join(lines[i + 1:end])
    return sections


def check_readme(records: List[dict], path: str = README) -> List[str]:
    """Problems found: a record's README section missing, or one of its printed figures absent from it."""
    sections = readme_sections(path)
    problems = []
    for r in records:
        matches = [t for t in sections if t.startswith(r["readme_section"])]
        if not matches:
            problems.append(f"{r['name']}: README has no section starting with {r['readme_section']!r}")
            continue
        text = sections[matches[0]]
        for key, m in r["metrics"].items():
            shown = m.get("readme")
            if shown is not None and shown not in text:
                problems.append(f"{r['name']}: {key} = {shown!r} is not in README section {matches[0]!r}")
    return problems


def _last_json(stdout: str) -> dict:
    for line in reversed(stdout.strip().splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            return json.loads(line)
    raise RuntimeError("the command printed no JSON result line")


def run_record(record: dict, root: str, python: str = sys.executable) -> Dict[str, float]:
    workdir = os.path.join(root, record.get("workdir", record["name"]))
    result = {}
    for cmd in record["commands"]:
        argv = [python, "-m", "experiments.run", *cmd, f"--workdir={workdir}"]
        proc = subprocess.run(argv, cwd=os.path.dirname(HERE), capture_output=True, text=True)
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise RuntimeError(f"{' '.join(argv[2:])} failed (exit {proc.returncode}): {' | '.join(tail)}")
        result = _last_json(proc.stdout)
    return result


def compare(record: dict, measured: Dict[str, float]):
    """[(key, recorded, measured, tolerance, ok)] for each recorded metric."""
    rows = []
    for key, m in record["metrics"].items():
        got = measured.get(key)
        ok = got is not None and abs(got - m["value"]) <= m.get("tolerance", 0.0) + SLACK
        rows.append((key, m["value"], got, m.get("tolerance", 0.0), ok))
    return rows


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--only", nargs="+", default=None, help="record names")
    p.add_argument("--cheap", action="store_true", help="only the records marked cheap")
    p.add_argument("--list", action="store_true")
    p.add_argument("--check-readme", action="store_true")
    p.add_argument("--root", default=None, help="directory for the workdirs (default: a temporary one)")
    p.add_argument("--keep", action="store_true", help="keep the temporary workdirs")
    args = p.parse_args(argv)

    records = load_records()
    if args.only:
        unknown = sorted(set(args.only) - {r["name"] for r in records})
        if unknown:
            print(f"unknown record(s) {unknown}; known: {[r['name'] for r in records]}", file=sys.stderr)
            return 2
        records = [r for r in records if r["name"] in args.only]
    if args.cheap:
        records = [r for r in records if r["cheap"]]
    if args.list:
        for r in records:
            print(f"{r['name']:32s} {r['minutes']:>5} min  {'cheap' if r['cheap'] else '     '}  "
                  f"README: {r['readme_section']}  ({', '.join(r['metrics'])})")
        return 0
    if args.check_readme:
        problems = check_readme(records)
        for line in problems:
            print(line)
        print(f"{len(records)} records, {'OK' if not problems else f'{len(problems)} problem(s)'}")
        return 1 if problems else 0

    root = args.root or tempfile.mkdtemp(prefix="gen_jax_reproduce_")
    os.makedirs(root, exist_ok=True)
    failures, t_all = 0, time.time()
    print(f"{'record':32s} {'metric':34s} {'recorded':>12s} {'measured':>12s} {'tol':>7s}  result   time")
    try:
        for r in records:
            t0 = time.time()
            try:
                rows = compare(r, run_record(r, root))
            except RuntimeError as e:
                failures += 1
                print(f"{r['name']:32s} ERROR: {e}")
                continue
            for key, want, got, tol, ok in rows:
                failures += not ok
                got_s = "missing" if got is None else f"{got:.4f}"
                print(f"{r['name']:32s} {key:34s} {want:12.4f} {got_s:>12s} {tol:7.3g}  "
                      f"{'ok' if ok else 'DIFFERS'}  {time.time() - t0:6.0f}s", flush=True)
    finally:
        if args.root is None and not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print(f"{len(records)} records in {time.time() - t_all:.0f}s: "
          f"{'all figures reproduced' if not failures else f'{failures} figure(s) differ'}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
