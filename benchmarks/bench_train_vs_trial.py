"""``rdlr train`` against the identical trial inside a sweep, side by side in one run (issue 17.3, goal ≥ 0.9).

The same rows, method, hyperparameters and seed, trained both ways on the demo corpora's IS10 features
(CRE/IEM/IMP-demo for training and validation, 80/20 of their speakers; POD-demo as the unseen test corpus):

1. **train**: ``python -m rdlr train`` as a user runs it (its default torch threads unless ``--threads``), timed by
   the model card's ``training.wall_time_s`` (the training itself, not the start-up or the feature check);
2. **trial**: the same model as one Ray Tune trial of a sweep (:func:`rdlr.sweep.driver.run_sweep` on a private
   Ray of ``--cpus-per-trial`` CPUs: the trial function of :mod:`rdlr.sweep.trial` in its Ray worker), timed by
   its results row's ``wall_time_s``.

Both must give the same validation and test UA; the ratio trial time / train time is printed for each checkout
(``--checkout`` measures another one first, e.g. ``git worktree add /tmp/before main``, with its own ``rdlr`` on
the path, so before and after are printed in one run).

    python benchmarks/bench_train_vs_trial.py                        # this checkout
    python benchmarks/bench_train_vs_trial.py --checkout /tmp/before # before vs this checkout

The demo corpora and their features are made once under ``--work`` (about 3 minutes on 2 cores) and reused.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from support.checkout_runs import checkout_env, child_figures  # benchmarks/ is on the path: the scripts run from there

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
TRAINING = ("CRE-demo", "IEM-demo", "IMP-demo")
TEST = "POD-demo"
HPARAMS = {"batch_size": 32}
METHOD = "ce"
SEED = 0


def prepare_inputs(work: Path) -> dict[str, Any]:
    """The demo corpora, a manifest per source (training corpora, test corpus) and their IS10 features in a store
    under ``work`` (made with this checkout; kept for the next run)."""
    import pandas as pd

    from rdlr.corpora.demo.generate import generate_demo_corpora

    manifest = pd.read_csv(generate_demo_corpora(work / "demo"))
    paths = {"labeled": work / "labeled.csv", "test": work / "test.csv"}
    manifest[manifest["corpus"].isin(TRAINING)].to_csv(paths["labeled"], index=False)
    manifest[manifest["corpus"] == TEST].to_csv(paths["test"], index=False)
    store = work / "store"
    for path in paths.values():
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "rdlr",
                "extract",
                "--manifest",
                str(path),
                "--features",
                "is10",
                "--store",
                str(store),
                "--no-progress",
            ],
            env=checkout_env(REPO),
            capture_output=True,
            text=True,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rdlr extract failed:\n{done.stderr[-3000:]}")
    return {"labeled": str(paths["labeled"]), "test": str(paths["test"]), "store": str(store)}


def run_train(checkout: Path, inputs: dict[str, Any], epochs: int, threads: int | None) -> dict[str, Any]:
    """``rdlr train`` of ``checkout`` on the inputs; its training time and metrics from the model card."""
    with tempfile.TemporaryDirectory() as out:
        command = [
            sys.executable,
            "-m",
            "rdlr",
            "train",
            "--manifest",
            inputs["labeled"],
            "--test-manifest",
            inputs["test"],
            "--features",
            "is10",
            "--method",
            METHOD,
            "--store",
            inputs["store"],
            "--out",
            f"{out}/model",
            "--max-epochs",
            str(epochs),
            "--seed",
            str(SEED),
            "--quiet",
            *(arg for name, value in HPARAMS.items() for arg in ("--hparam", f"{name}={value}")),
            *(("--threads", str(threads)) if threads is not None else ()),
        ]
        started = time.monotonic()
        done = subprocess.run(command, env=checkout_env(checkout), cwd=checkout, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"rdlr train of {checkout} failed:\n{done.stderr[-3000:]}")
        card = json.loads(Path(out, "model", "model.json").read_text())
    metrics = card["metrics"]
    return {
        "train_s": float(card["training"]["wall_time_s"]),
        "command_s": time.monotonic() - started,
        "threads": card["training"].get("threads"),
        "val_ua": metrics["val_ua"],
        "test_ua": metrics["test_ua"],
        "epochs": metrics["epochs"],
    }


def trial_spec(epochs: int, cpus: int) -> dict[str, Any]:
    """A sweep of one trial: the train run's method, hyperparameters and seed, POD-demo held out."""
    return {
        "id": "train-vs-trial",
        "data": {"source": "demo"},
        "features": ["is10"],
        "held_out": [TEST],
        "protocols": {"out_of_corpus": [METHOD]},
        "seeds": [SEED],
        "search": {"configs": 1, "space": {name: [value] for name, value in HPARAMS.items()}},
        "training": {"max_epochs": epochs},
        "resources": {"cpus_per_trial": cpus, "max_failures": 0},
    }


def measure_trial(inputs: dict[str, Any], epochs: int, cpus: int) -> dict[str, Any]:
    """The trial inside a sweep, with the ``rdlr`` on the path (in a child process); its time and metrics."""
    import pandas as pd
    import ray

    from rdlr.features import load
    from rdlr.spec.core import SweepSpec
    from rdlr.sweep.driver import run_sweep

    table = load(inputs["store"], "is10", [*TRAINING, TEST])
    ray.init(address="local", num_cpus=cpus, include_dashboard=False, log_to_driver=False)
    with tempfile.TemporaryDirectory() as storage:
        try:
            outcome = run_sweep(
                SweepSpec.from_dict(trial_spec(epochs, cpus)),
                {"is10": (table.x, table.meta)},
                storage,
                log=lambda line: None,
                adapt_resources=False,
            )
        finally:
            ray.shutdown()
        row = pd.read_csv(outcome.results_uri).iloc[0]
    return {
        "trial_s": float(row["wall_time_s"]),
        "val_ua": float(row["val_ua"]),
        "test_ua": float(row["test_ua"]),
        "epochs": int(row["epochs"]),
    }


def _trial_child(checkout: Path, inputs: dict[str, Any], epochs: int, cpus: int) -> dict[str, Any]:
    argv = [json.dumps(inputs), "--epochs", str(epochs), "--cpus-per-trial", str(cpus)]
    return child_figures(__file__, checkout, argv, "the sweep trial")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--checkout",
        type=Path,
        action="append",
        default=[],
        help="another checkout of rdlr to measure before this one (repeatable)",
    )
    parser.add_argument(
        "--work",
        type=Path,
        default=Path(tempfile.gettempdir()) / "rdlr-bench-train-vs-trial",
        help="where the demo corpora and their feature store are made once and reused",
    )
    parser.add_argument("--epochs", type=int, default=30, help="epoch limit of both runs (default 30)")
    parser.add_argument("--threads", type=int, default=None, help="rdlr train --threads (default: its own)")
    parser.add_argument("--cpus-per-trial", type=int, default=1, help="the sweep's cpus_per_trial (default 1)")
    parser.add_argument("--out", type=Path, default=None, help="write the measurements as JSON")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure_trial(json.loads(args.child), args.epochs, args.cpus_per_trial)))
        return 0
    inputs = prepare_inputs(args.work.resolve())
    measured: dict[str, Any] = {"cpus": os.cpu_count(), "load_before": os.getloadavg()[0], "runs": []}
    print(
        f"{METHOD} {HPARAMS} seed {SEED}, at most {args.epochs} epochs, on {'+'.join(TRAINING)} (test {TEST}); "
        f"sweep trial with cpus_per_trial {args.cpus_per_trial}; goal trial / train ≥ 0.9",
        flush=True,
    )
    for checkout in [*(c.resolve() for c in args.checkout), REPO]:
        train = run_train(checkout, inputs, args.epochs, args.threads)
        trial = _trial_child(checkout, inputs, args.epochs, args.cpus_per_trial)
        same = all(abs(train[key] - trial[key]) < 1e-9 for key in ("val_ua", "test_ua", "epochs"))
        run = {
            "checkout": str(checkout),
            "train": train,
            "trial": trial,
            "same_numbers": same,
            "ratio": trial["trial_s"] / train["train_s"],
        }
        measured["runs"].append(run)
        print(
            f"  {checkout}: rdlr train {train['train_s']:.1f} s ({train['threads']} torch threads; "
            f"{train['command_s']:.1f} s the whole command), sweep trial {trial['trial_s']:.1f} s: "
            f"trial / train = {run['ratio']:.2f}; val UA {100 * train['val_ua']:.1f}% / {100 * trial['val_ua']:.1f}%,"
            f" test UA {100 * train['test_ua']:.1f}% / {100 * trial['test_ua']:.1f}%, {train['epochs']} / "
            f"{trial['epochs']} epochs: {'same numbers' if same else 'NUMBERS DIFFER'}",
            flush=True,
        )
    measured["load_after"] = os.getloadavg()[0]
    if args.out:
        args.out.write_text(json.dumps(measured, indent=1))
    return 0 if all(run["same_numbers"] for run in measured["runs"]) else 1


if __name__ == "__main__":
    sys.exit(main())
