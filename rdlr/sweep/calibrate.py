"""The plan's rates measured on the machine at hand: a short timed training of the paper's networks per method
family (:data:`rdlr.sweep.cost.KINDS`) and input size, cached per machine.

A case is (kind, input dimension, probe minibatch, torch threads). Its probe builds the method's real objective
(:class:`rdlr.train.objective.Objective`: ``ce`` for ``plain``; ``dagger`` = AE (12) + LS + PEL (13) on M' = 32
unlabeled rows for ``ae``) with Adam, on random rows, takes one warm-up step, then times steps one by one until
:data:`MIN_STEPS` and :data:`MIN_SECONDS` are reached, keeping the fastest, and times F's forward pass on
:data:`EVAL_ROWS` rows alike. The rates are FLOP (:func:`rdlr.sweep.cost.train_flops_per_row`,
:func:`~rdlr.sweep.cost.eval_flops_per_row`) per CPU second of this process (``time.process_time``: the cores the
work keeps busy, which another program sharing the machine inflates far less than wall time), times the threads,
so that the cost model's convention holds: a trial's seconds × its threads = its core-seconds. On a GPU (cases
with ``device="cuda"``, measured when the machine has one and the spec asks for GPUs) the clock is wall time after
a synchronisation. Minibatches above :data:`MAX_PROBE_BATCH` are probed at it (a larger M is as fast per FLOP or
a little faster: the projection errs long).

The cache is one JSON file per machine (:func:`machine_key`: CPU model, CPU count, GPU model, torch version) under
:func:`cache_dir`; cases missing from it are measured when a plan needs them, ``refresh`` measures the plan's cases
again. Each case keeps the machine's load when it was measured (1-minute load average per CPU): CPU time still grows
on a busy machine (minibatch 16 and 32 cases measured at a load of 6-13 per CPU gave 0.46x and 0.65x the rates
measured quiet, and the plan they made was 40 % long), so a case measured busier than :data:`BUSY_LOAD` is measured
again once the load is under half of what it was. The result is a :class:`rdlr.sweep.cost.Figures` whose Ray
overhead per model and GPU sharing speed-up come from the fallback figures (the packaged ones), as the probe starts
no Ray and runs one model at a time; so do its GPU rates unless this machine's GPU was measured.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rdlr.io.safe_text import DocumentError, read_json
from rdlr.io.storage import Storage
from rdlr.methods import get_method
from rdlr.sweep.cost import Figures, Rate, eval_flops_per_row, train_flops_per_row

FORMAT = 1
PROBES: dict[str, str] = {"plain": "ce", "ae": "dagger"}  # the method timed for each kind
MAX_PROBE_BATCH = 1024
MIN_STEPS = 3
MIN_SECONDS = 0.2
EVAL_ROWS = 1024
UNLABELED_ROWS = 32  # M' of AE (12) / PEL (13)
BUSY_LOAD = 1.0  # 1-minute load average per CPU above which a cached case is measured again on a quieter machine


@dataclass(frozen=True)
class Case:
    """What one probe measures: a kind of method, an input dimension, a minibatch, torch threads and a device."""

    kind: str
    dims: int
    batch: int
    threads: int
    device: str = "cpu"

    @property
    def key(self) -> str:
        return f"{self.kind}/{self.dims}/{self.batch}/{self.threads}/{self.device}"


def calibration_threads(cpus_per_trial: float) -> int:
    """The torch threads of a trial asking for ``cpus_per_trial`` CPUs (as the sweep's worker sets them), at most
    this machine's CPUs."""
    return max(1, min(int(cpus_per_trial), os.cpu_count() or 1))


def probe_batch(batch: int) -> int:
    """The minibatch a case of minibatch ``batch`` is probed at."""
    return min(int(batch), MAX_PROBE_BATCH)


def cache_dir() -> Path:
    """``$RDLR_CACHE_DIR``, else ``$XDG_CACHE_HOME/rdlr``, else ``~/.cache/rdlr``."""
    if os.environ.get("RDLR_CACHE_DIR"):
        return Path(os.environ["RDLR_CACHE_DIR"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rdlr"


def gpu_here() -> bool:
    """Whether torch sees a CUDA GPU on this machine."""
    import torch

    return torch.cuda.is_available()


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), else what :mod:`platform` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def machine_key() -> dict[str, Any]:
    """What the rates depend on: CPU model and count, the GPU models torch sees, the torch version."""
    import torch

    gpus = (
        [torch.cuda.get_device_name(i) for i in range(torch.cuda.device_count())] if torch.cuda.is_available() else []
    )
    return {"cpu": cpu_model(), "cpus": os.cpu_count() or 1, "gpus": gpus, "torch": torch.__version__}


def describe(machine: dict[str, Any]) -> str:
    gpus = f", {len(machine['gpus'])} × {machine['gpus'][0]}" if machine["gpus"] else ""
    return f"{machine['cpu']}, {machine['cpus']} CPUs{gpus}, torch {machine['torch']}"


def cache_path(machine: dict[str, Any]) -> Path:
    digest = hashlib.sha1(json.dumps(machine, sort_keys=True).encode()).hexdigest()[:16]
    return cache_dir() / "calibration" / f"{digest}.json"


def _timed(device: str) -> Callable[[], float]:
    """A clock for the probe: CPU seconds of this process on CPU, wall seconds after a sync on a GPU."""
    if device == "cpu":
        return time.process_time
    import torch

    def clock() -> float:
        torch.cuda.synchronize()
        return time.perf_counter()

    return clock


def measure(case: Case) -> dict[str, float]:
    """Probe ``case``: training and evaluation FLOP per second × threads (CPU) or per second (GPU)."""
    import torch

    from rdlr.model import EmotionClassifier
    from rdlr.train.objective import Objective

    previous = torch.get_num_threads()
    torch.set_num_threads(case.threads)
    try:
        method = get_method(PROBES[case.kind])
        hparams = method.resolve_hparams({"batch_size": case.batch})
        generator = torch.Generator().manual_seed(0)
        x = torch.randn(case.batch, case.dims, generator=generator).to(case.device)
        unlabeled = torch.randn(UNLABELED_ROWS, case.dims, generator=generator).to(case.device)
        labels = torch.randint(0, 4, (case.batch,), generator=generator).to(case.device)
        target = torch.nn.functional.one_hot(labels, 4).float()
        objective = Objective(method, hparams, case.dims, ae_on_unlabeled=True).to(case.device)
        optimizer = torch.optim.Adam(objective.param_groups(2e-4))

        def step() -> None:
            terms = objective(x, target, labels, None, None, unlabeled if method.uses("ae") else None)
            optimizer.zero_grad(set_to_none=True)
            torch.stack(list(terms.values())).sum().backward()
            optimizer.step()

        clock = _timed(case.device)
        train_s = _per_call(step, clock)
        classifier = EmotionClassifier(case.dims).to(case.device).eval()
        rows = torch.randn(EVAL_ROWS, case.dims, generator=generator).to(case.device)
        with torch.no_grad():
            eval_s = _per_call(lambda: classifier(rows), clock)
    finally:
        torch.set_num_threads(previous)
    scale = case.threads if case.device == "cpu" else 1
    train_work = train_flops_per_row(method, case.dims, case.batch, UNLABELED_ROWS) * case.batch
    return {
        "train_flops_per_s": train_work / train_s * scale,
        "eval_flops_per_s": eval_flops_per_row(case.dims) * EVAL_ROWS / eval_s * scale,
    }


def _per_call(call: Callable[[], object], clock: Callable[[], float]) -> float:
    """Seconds of the fastest call after one warm-up call, timed one by one: at least :data:`MIN_STEPS` calls and
    :data:`MIN_SECONDS` (the fastest is the one other programs disturbed least; on a machine shared with a dozen
    processes the mean of the same calls ran 1.6× slower than the trials it was to project)."""
    call()
    times: list[float] = []
    wall = time.perf_counter()
    while len(times) < MIN_STEPS or time.perf_counter() - wall < MIN_SECONDS:
        started = clock()
        call()
        times.append(clock() - started)
    return max(min(times), 1e-9)


@dataclass(frozen=True)
class Calibration:
    """The rates measured on this machine: its key, the cache file, every case measured so far (``cases``: case key
    → rates and when they were measured) and how many of them this call measured."""

    machine: dict[str, Any]
    path: Path
    cases: dict[str, dict[str, Any]]
    measured_now: int = 0

    def describe(self) -> str:
        """Which calibration the plan used, in words."""
        when = max((entry["measured"] for entry in self.cases.values()), default="never")
        fresh = f"{self.measured_now} case(s) measured now" if self.measured_now else "from the cache"
        return f"calibrated on this machine ({describe(self.machine)}; {fresh}, latest {when}; {self.path})"

    def figures(self, threads: int, fallback: Figures) -> Figures:
        """The cost model's rates: this machine's CPU cases at ``threads``; GPU cases, their sharing speed-up and
        Ray's overhead per model from ``fallback`` unless this machine's GPU was measured."""
        rates = [
            _rate(entry) for entry in self.cases.values() if entry["threads"] == threads and entry["device"] == "cpu"
        ]
        gpu = [_rate(entry) for entry in self.cases.values() if entry["device"] != "cpu"]
        gpu_machine = self.machine["gpus"][0] if gpu else fallback.gpu_machine
        return replace(
            fallback,
            source=self.describe(),
            machine=describe(self.machine),
            threads=threads,
            rates=tuple(rates),
            gpu_rates=tuple(gpu) or fallback.gpu_rates,
            gpu_machine=gpu_machine,
            fallback_epochs={},
            epochs_source=None,
        )


def _rate(entry: dict[str, Any]) -> Rate:
    return Rate(
        entry["kind"],
        int(entry["dims"]),
        int(entry["batch"]),
        float(entry["train_flops_per_s"]),
        float(entry["eval_flops_per_s"]),
        None,
    )


def load_per_cpu() -> float:
    """This machine's 1-minute load average per CPU."""
    return os.getloadavg()[0] / (os.cpu_count() or 1)


def measured_busy(entry: dict[str, Any], load_now: float) -> bool:
    """Whether a cached case was measured on a busy machine that is now under half as busy (a case cached before
    the load was recorded counts as measured at the load of now)."""
    then = float(entry.get("load_per_cpu", load_now))
    return then > BUSY_LOAD and load_now < then / 2


def calibrate(
    cases: Iterable[Case], refresh: bool = False, log: Callable[[str], None] = lambda line: None
) -> Calibration:
    """The rates of ``cases`` on this machine: read from its cache file, the missing ones (with ``refresh``: all of
    ``cases``; also those :func:`measured_busy`) measured now and written back whole (a cache file that cannot be
    read is measured again)."""
    machine = machine_key()
    path = cache_path(machine)
    cached = _read_cache(path, machine, log)
    load = load_per_cpu()
    todo = [
        case
        for case in dict.fromkeys(cases)
        if refresh or case.key not in cached or measured_busy(cached[case.key], load)
    ]
    for case in todo:
        entry = cached.get(case.key)
        again = ""
        if entry is not None and not refresh:
            again = f" again (measured at a load of {entry['load_per_cpu']:.1f} per CPU, now {load:.1f})"
        log(
            f"calibrating{again}: {case.kind} methods, {case.dims} dims, M {case.batch}, {case.threads} thread(s), "
            f"{case.device}"
        )
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        rates = measure(case)
        cached[case.key] = {**case.__dict__, **rates, "measured": stamp, "load_per_cpu": round(load, 2)}
    if todo:
        document = {"format": FORMAT, "machine": machine, "cases": cached}
        Storage(path.parent).write(json.dumps(document, indent=1, sort_keys=True).encode(), path.name)
    return Calibration(machine, path, cached, len(todo))


def _read_cache(path: Path, machine: dict[str, Any], log: Callable[[str], None]) -> dict[str, dict[str, Any]]:
    """The cases cached in ``path`` for ``machine`` (none when the file is absent, unreadable or another's)."""
    if not path.is_file():
        return {}
    try:
        document = read_json(path)
        if document.get("format") != FORMAT or document.get("machine") != machine:
            raise DocumentError("another format or machine")
        cases = dict(document["cases"])
        for entry in cases.values():
            _rate(entry), str(entry["device"]), int(entry["threads"])
    except (DocumentError, KeyError, TypeError, ValueError, AttributeError) as error:
        log(f"calibration cache {path} unusable ({error}); measuring again")
        return {}
    return cases
