"""The three input normalisations side by side (rdlr.normalization; docs/normalization.md): train (the paper's),
corpus and speaker, each a block of one sweep, on the demo corpora (leave-one-corpus-out) and on EmoDB
(``../shared/corpora/emodb``, within-corpus: one corpus, per speaker).

Each data set is one ``rdlr reproduce`` of a small spec (CE, one configuration, ``--seeds`` seeds, ``--epochs``
epochs at most) listing ``normalization: [train, corpus, speaker]``, in a process of its own (its own private Ray).
Prints, per held-out corpus, the test UA (%) of each normalisation (validation selection, mean over seeds) and the
difference from train in percentage points, then the per-speaker fallback counts; writes the JSON of the table.

    python benchmarks/bench_normalization.py                 # demo + EmoDB, ~10 min on 2 busy cores
    python benchmarks/bench_normalization.py --data emodb --seeds 3
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
EMODB = REPO.parent / "shared" / "corpora" / "emodb"
NORMALIZATIONS = ("train", "corpus", "speaker")


def spec_for(data: str, seeds: int, epochs: int) -> dict:
    """The sweep of one data set: CE with the package defaults, every normalisation."""
    common = {
        "features": ["is10"],
        "seeds": list(range(seeds)),
        "normalization": list(NORMALIZATIONS),
        "search": {"configs": 1, "space": {"batch_size": [64 if data == "demo" else 16]}},
        "training": {"max_epochs": epochs},
        "resources": {"cpus_per_trial": 1},
    }
    if data == "demo":
        return {
            "id": "norm-demo",
            "description": "CE on the demo corpora under three normalisations",
            "data": {"source": "demo", "demo_seed": 0},
            "held_out": ["CRE-demo", "IEM-demo", "IMP-demo", "POD-demo"],
            "protocols": {"out_of_corpus": ["ce"]},
            **common,
        }
    return {
        "id": "norm-emodb",
        "description": "CE within EmoDB under three normalisations",
        "data": {"source": "real", "corpora": {"EMODB": {"loader": "emodb", "root": EMODB.name}}},
        "held_out": ["EMODB"],
        "protocols": {"within_corpus": ["ce"]},
        **common,
    }


def run(data: str, storage: Path, seeds: int, epochs: int) -> tuple[Path, float]:
    """``rdlr reproduce`` of the data set's spec; (its results.csv, wall seconds)."""
    spec = spec_for(data, seeds, epochs)
    storage.mkdir(parents=True, exist_ok=True)
    path = storage / f"{spec['id']}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    command = [sys.executable, "-m", "rdlr", "reproduce", str(path), "--storage", str(storage)]
    command += ["--out", str(storage / "reports")]
    if data == "emodb":
        command += ["--data-root", str(EMODB.parent)]
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    started = time.monotonic()
    log = storage / f"{spec['id']}.log"
    with log.open("w") as out:
        done = subprocess.run(command, cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"rdlr reproduce {path} failed (exit {done.returncode}): see {log}")
    return storage / spec["id"] / "results.csv", time.monotonic() - started


def side_by_side(results: Path) -> list[dict]:
    """Per held-out corpus: test UA (%) of each normalisation's selected configuration, mean over seeds."""
    from rdlr.report.selection import select_configs
    from rdlr.results import read_results

    chosen = select_configs(read_results(results), "validation")
    rows = []
    for held_out, group in chosen.groupby("held_out", sort=False):
        ua = {row["normalization"]: 100 * row["test_ua_mean"] for _, row in group.iterrows()}
        rows.append({"held_out": held_out, **ua})
    average = {n: sum(r[n] for r in rows) / len(rows) for n in NORMALIZATIONS if all(n in r for r in rows)}
    return [*rows, {"held_out": "Avg", **average}]


def fallback(results: Path) -> list[str]:
    from rdlr.results import read_results

    frame = read_results(results)
    rows = frame[frame["normalization"] == "speaker"].drop_duplicates(["protocol", "held_out"])
    return [
        f"  {r['held_out']}: {int(r['norm_speakers'])} speakers with their own statistics, "
        f"{int(r['norm_fallback_speakers'])} below the minimum ({int(r['norm_fallback_rows'])} utterances on "
        "their corpus' statistics)"
        for _, r in rows.iterrows()
        if "norm_speakers" in r and r["norm_speakers"] == r["norm_speakers"]
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", choices=("demo", "emodb", "both"), default="both")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--storage", type=Path, default=REPO / "benchmarks" / "results" / "normalization")
    args = parser.parse_args()
    sets = ["demo", "emodb"] if args.data == "both" else [args.data]
    if "emodb" in sets and not EMODB.is_dir():
        print(f"EmoDB not found at {EMODB}: skipped")
        sets.remove("emodb")
    measured = {}
    for data in sets:
        results, wall = run(data, args.storage, args.seeds, args.epochs)
        table = side_by_side(results)
        measured[data] = {"results": str(results), "wall_s": round(wall, 1), "table": table}
        print(f"\n{data}: test UA (%), CE, validation selection, {args.seeds} seeds ({wall:.0f} s)")
        print(f"  {'held out':<10} " + " ".join(f"{n:>8}" for n in NORMALIZATIONS) + "  corpus-train speaker-train")
        for row in table:
            values = " ".join(f"{row[n]:8.1f}" if n in row else f"{'-':>8}" for n in NORMALIZATIONS)
            deltas = " ".join(
                f"{row[n] - row['train']:+12.1f}" if n in row and "train" in row else f"{'-':>12}"
                for n in ("corpus", "speaker")
            )
            print(f"  {row['held_out']:<10} {values} {deltas}")
        lines = fallback(results)
        if lines:
            print("  per-speaker statistics:")
            print("\n".join(lines))
    out = args.storage / "normalization.json"
    out.write_text(json.dumps(measured, indent=2))
    print(f"\nwrote {out}")


if __name__ == "__main__":
    main()
