"""IS10 extraction throughput, side by side on the same files:

(a) a plain single-process loop over ``opensmile.Smile.process_file`` (and, for reference, over rdlr's
    IS10Extractor, which reads through ``load_audio``),
(b) opensmile-python's own multi-worker processing (``Smile(..., num_workers=N, multiprocessing=True)
    .process_files``),
(c) rdlr's Ray Data pipeline (``rdlr.features.extract``) with N actors, writing the Parquet store.

(a') does the same per-file work as (c) (soundfile read + openSMILE on the signal), so (c)/(N·a') is the
parallel efficiency of the pipeline itself; (c)/(N·a) compares with the plain opensmile loop as asked.
(c) is measured once started: from the moment the first actor begins its first batch to the last result written
by the driver, so Ray start-up and actor start-up (process spawn, imports, ``setup``) are excluded; its wall time
including actor start-up is printed too. Target: (c) >= 0.85 * N * (a).

    python benchmarks/bench_extract.py                     # EmoDB when present, else generated audio
    python benchmarks/bench_extract.py --workers 1,2 --files 300 --repeats 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
EMODB_WAV = REPO.parent / "shared" / "corpora" / "emodb" / "wav"
SR = 16_000


def generated_files(folder: Path, n: int) -> list[str]:
    """``n`` speech-like 1.5–3 s utterances (harmonics of a gliding F0 under a syllabic envelope, plus noise)."""
    rng = np.random.default_rng(0)
    paths = []
    for i in range(n):
        duration = rng.uniform(1.5, 3.0)
        t = np.arange(int(duration * SR)) / SR
        f0 = rng.uniform(90, 250) * (1 + 0.2 * np.sin(2 * np.pi * rng.uniform(0.5, 3) * t))
        phase = 2 * np.pi * np.cumsum(f0) / SR
        voice = sum(np.sin(k * phase) / k for k in range(1, 12))
        envelope = np.abs(np.sin(np.pi * rng.uniform(2, 5) * t / duration)) ** 0.5
        signal = envelope * voice + 0.05 * rng.normal(size=t.size)
        path = folder / f"gen{i:04d}.wav"
        sf.write(path, (0.4 * signal / np.abs(signal).max()).astype(np.float32), SR, subtype="PCM_16")
        paths.append(str(path))
    return paths


def plain_loop(files: list[str]) -> float:
    """(a) utterances/s of a single-process loop over opensmile's process_file."""
    import opensmile

    smile = opensmile.Smile(opensmile.FeatureSet.IS10, opensmile.FeatureLevel.Functionals)
    start = time.perf_counter()
    for path in files:
        smile.process_file(path)
    return len(files) / (time.perf_counter() - start)


def extractor_loop(files: list[str]) -> float:
    """(a') utterances/s of a single-process loop over rdlr's IS10Extractor (load_audio + process_signal)."""
    from rdlr.features.is10 import IS10Extractor

    extractor = IS10Extractor()
    extractor.setup()
    start = time.perf_counter()
    for path in files:
        (result,) = extractor.extract([{"utt_id": path, "path": path}])
        assert result.error is None, result.error
    return len(files) / (time.perf_counter() - start)


def opensmile_workers(files: list[str], workers: int) -> float:
    """(b) utterances/s of opensmile's own multiprocessing over ``workers`` processes (pool start included)."""
    import opensmile

    smile = opensmile.Smile(
        opensmile.FeatureSet.IS10, opensmile.FeatureLevel.Functionals, num_workers=workers, multiprocessing=True
    )
    start = time.perf_counter()
    smile.process_files(files)
    return len(files) / (time.perf_counter() - start)


def ray_pipeline(files: list[str], workers: int, batch_size: int) -> tuple[float, float]:
    """(c) utterances/s of the Ray Data pipeline once started, and its wall time including actor start-up."""
    from rdlr.features import extract

    manifest = pd.DataFrame(
        {
            "utt_id": [f"u{i:05d}" for i in range(len(files))],
            "path": files,
            "corpus": "BENCH",
            "speaker": "s",
            "label": "neutral",
        }
    )
    with tempfile.TemporaryDirectory() as store:
        summary = extract(manifest, "is10", store, workers=workers, batch_size=batch_size, progress=False)
    (run,) = summary.runs
    if run.processed != len(files) or summary.errors_by_reason():
        raise RuntimeError(f"pipeline processed {run.processed}/{len(files)}: {summary.errors_by_reason()}")
    return run.rate, run.wall_seconds


def record(results: dict[str, list[float]], key: str, value: float) -> None:
    results.setdefault(key, []).append(value)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--files", type=int, default=None, help="number of files (default: all EmoDB files, or 200 generated ones)"
    )
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts N (default 1,2)")
    parser.add_argument("--batch-size", type=int, default=16, help="utterances per Ray Data batch")
    parser.add_argument("--repeats", type=int, default=1, help="rounds of measurements; medians are reported")
    parser.add_argument("--generated", action="store_true", help="use generated audio even if EmoDB is present")
    args = parser.parse_args(argv)
    workers = [int(w) for w in args.workers.split(",")]

    import ray

    with tempfile.TemporaryDirectory() as scratch:
        if EMODB_WAV.is_dir() and not args.generated:
            files = sorted(str(p) for p in EMODB_WAV.glob("*.wav"))[: args.files]
            source = f"EmoDB ({EMODB_WAV})"
        else:
            files = generated_files(Path(scratch), args.files or 200)
            source = "generated audio"
        seconds = sum(sf.info(f).duration for f in files)
        print(
            f"{len(files)} files, {seconds:.0f} s of audio, from {source}; {os.cpu_count()} CPUs; "
            f"batch size {args.batch_size}; {args.repeats} round(s)",
            flush=True,
        )
        for path in files:  # warm the page cache so that no method pays for the first read from disk
            sf.read(path)
        ray.init(address="local", num_cpus=os.cpu_count(), include_dashboard=False, log_to_driver=False)
        results: dict[str, list[float]] = {}
        for round_ in range(args.repeats):
            # (a) before and after the round: the reference for this round's ratios is their mean, which
            # cancels slow drifts of the machine's load.
            first, first_prime = plain_loop(files), extractor_loop(files)
            for n in workers:
                record(results, f"b{n}", opensmile_workers(files, n))
                rate, wall = ray_pipeline(files, n, args.batch_size)
                record(results, f"c{n}", rate)
                record(results, f"wall{n}", wall)
            a, a_prime = (first + plain_loop(files)) / 2, (first_prime + extractor_loop(files)) / 2
            record(results, "a", a)
            record(results, "a'", a_prime)
            for n in workers:
                record(results, f"b{n}/a", results[f"b{n}"][-1] / a)
                record(results, f"c{n}/a", results[f"c{n}"][-1] / a)
                record(results, f"c{n}/a'", results[f"c{n}"][-1] / a_prime)
            print(f"round {round_ + 1}: " + ", ".join(f"{k}={v[-1]:.2f}" for k, v in results.items()), flush=True)
        ray.shutdown()

    med = {key: statistics.median(values) for key, values in results.items()}
    print(f"\nmedians over {args.repeats} round(s); ratios are taken within each round")
    print(f"(a)  single-process opensmile.process_file loop : {med['a']:7.1f} utt/s")
    print(f"(a') single-process IS10Extractor loop          : {med[chr(97) + chr(39)]:7.1f} utt/s")
    for n in workers:
        print(
            f"N={n}: (b) opensmile multiprocessing           : {med[f'b{n}']:7.1f} utt/s  "
            f"(b)/(a)={med[f'b{n}/a']:.2f}  (b)/(N·a)={med[f'b{n}/a'] / n:.2f}"
        )
        print(
            f"N={n}: (c) Ray Data pipeline, once started      : {med[f'c{n}']:7.1f} utt/s  "
            f"(c)/(a)={med[f'c{n}/a']:.2f}  (c)/(N·a)={med[f'c{n}/a'] / n:.2f}  (target >= 0.85)  "
            f"(c)/(N·a')={med[f'c{n}/' + chr(97) + chr(39)] / n:.2f}  "
            f"[wall incl. actor start-up: {med[f'wall{n}']:.1f} s for {len(files)} files]"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
