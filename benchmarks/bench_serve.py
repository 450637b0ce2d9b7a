"""``rdlr serve`` under load: requests per second and p50/p95 latency of POST /predict with IS10 on this machine
(the figures in docs/deploy.md are from 2 cores), against the time one process takes to extract and classify the
same files alone.

A model folder with random IS10 weights is written to a temporary folder; ``rdlr serve`` runs it in a subprocess on
its own private Ray; the client sends EmoDB's first recordings (../shared/corpora/emodb, else generated speech-like
sounds), ``--concurrency`` at a time, ``--requests`` in all, after a warm-up.

    python benchmarks/bench_serve.py                       # ~3 min: 200 requests, 16 at a time, 1 replica
    python benchmarks/bench_serve.py --replicas 2 --engine onnx
    python benchmarks/bench_serve.py --smoke               # 20 requests, to check the script runs
"""

from __future__ import annotations

import argparse
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests
import soundfile as sf
from support.is10_model import is10_model_folder  # benchmarks/ is on the path: the scripts run from there

from rdlr.features.is10 import IS10Extractor
from rdlr.models import load_model

REPO = Path(__file__).resolve().parents[1]
EMODB_WAV = REPO.parent / "shared" / "corpora" / "emodb" / "wav"
FILES = 20


def recordings(root: Path) -> list[Path]:
    if EMODB_WAV.is_dir():
        return sorted(EMODB_WAV.glob("*.wav"))[:FILES]
    paths = []
    for i in range(FILES):
        t = np.arange(int(16_000 * (1.5 + 0.1 * i))) / 16_000
        voice = sum(np.sin(2 * np.pi * (100 + 10 * i) * k * t) / k for k in range(1, 6))
        paths.append(root / f"voice{i}.wav")
        sf.write(paths[-1], (0.1 * voice * (0.5 + 0.5 * np.sin(8 * np.pi * t))).astype(np.float32), 16_000)
    return paths


def model_folder(root: Path, files: list[Path]) -> Path:
    x = np.stack([r.vector for r in IS10Extractor().extract([{"utt_id": p.stem, "path": str(p)} for p in files])])
    return is10_model_folder(root, x.mean(0), x.std(0) + 1e-3)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--replicas", type=int, default=1)
    parser.add_argument("--engine", choices=("torch", "onnx"), default="torch")
    parser.add_argument("--smoke", action="store_true", help="20 requests, 4 at a time")
    args = parser.parse_args()
    total, concurrency = (20, 4) if args.smoke else (args.requests, args.concurrency)
    with tempfile.TemporaryDirectory() as root:
        files = recordings(Path(root))
        folder = model_folder(Path(root), files)
        if args.engine == "onnx":
            subprocess.run([sys.executable, "-m", "rdlr", "onnx", str(folder)], check=True, capture_output=True)
        model = load_model(folder, engine=args.engine)
        started = time.perf_counter()
        model.predict(files, progress=False)
        alone = (time.perf_counter() - started) / len(files)
        bodies = [path.read_bytes() for path in files]
        seconds = np.mean([sf.info(str(path)).duration for path in files])
        port = free_port()
        env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "rdlr",
                "serve",
                str(folder),
                "--port",
                str(port),
                "--replicas",
                str(args.replicas),
                "--engine",
                args.engine,
            ],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        url = f"http://127.0.0.1:{port}/predict"
        try:
            launched = time.perf_counter()
            while True:
                try:
                    if requests.get(f"http://127.0.0.1:{port}/healthz", timeout=5).ok:
                        break
                except requests.RequestException:
                    time.sleep(1)
                if service.poll() is not None:
                    raise SystemExit("rdlr serve exited before it answered")
            startup = time.perf_counter() - launched

            def one(index: int) -> float:
                sent = time.perf_counter()
                response = requests.post(url, data=bodies[index % len(bodies)], timeout=600)
                response.raise_for_status()
                return time.perf_counter() - sent

            with ThreadPoolExecutor(concurrency) as pool:
                list(pool.map(one, range(2 * concurrency)))  # warm-up
                began = time.perf_counter()
                latencies = np.array(list(pool.map(one, range(total))))
                elapsed = time.perf_counter() - began
        finally:
            service.send_signal(signal.SIGINT)
            service.wait(timeout=180)
    print(
        f"rdlr serve, IS10, {args.engine}, {args.replicas} replica(s), {os.cpu_count()} CPUs; {total} requests, "
        f"{concurrency} at a time; files of {seconds:.1f} s on average; service ready in {startup:.0f} s"
    )
    print(
        f"requests/s {total / elapsed:.2f}; latency p50 {1000 * np.percentile(latencies, 50):.0f} ms, "
        f"p95 {1000 * np.percentile(latencies, 95):.0f} ms"
    )
    print(
        f"one process alone (rdlr.load_model(...).predict, extraction + classifier): {1000 * alone:.0f} ms per file "
        f"= {1 / alone:.2f} files/s; service/alone throughput ratio {(total / elapsed) * alone:.2f}"
    )


if __name__ == "__main__":
    main()
