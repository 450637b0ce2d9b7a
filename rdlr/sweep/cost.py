"""What one trial costs: the work of the networks of Section 3.2 (multiply-adds of F, H and the metric losses per
training and per evaluated row) and the rates the scale rehearsal measured (``benchmarks/bench_scale.py`` writes
them as JSON; a copy measured on the project's machine ships as ``rdlr/data/scale_figures.json``).

A trial's seconds = epochs × (training rows × training work / training rate + rows evaluated each epoch ×
evaluation work / evaluation rate) + the final evaluation (validation, test and training rows, once). Rates are
taken from the measured case of the same kind (with or without the AE decoder H of (12)) nearest in batch size
(outside the measured sizes, the nearest one's) and input dimension; work scales with the input dimension and the
method's parts, so a case measured at 1,582 dimensions projects 2,094. Epochs per model come from finished
sweeps of similar size, else from an estimate (:mod:`rdlr.sweep.epochs`). The rates are measured on the machine at
hand (:mod:`rdlr.sweep.calibrate`), or read from a figures file made for another (``rdlr plan --rates``). A
trial's GPU seconds follow the same formula with the rates of the GPU cases (``bench_scale.py --device cuda``),
and several trials sharing one GPU get through their work faster together by the measured speed-up
(:meth:`Figures.gpu_speedup`).
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rdlr.io.safe_text import DocumentError, read_json
from rdlr.labels import NUM_CLASSES
from rdlr.methods import Method
from rdlr.model import CLASSIFIER_HIDDEN, DECODER_HIDDEN
from rdlr.train.config import TrainConfig

FIGURES_FILE = "scale_figures.json"
PACKAGED_FIGURES = Path(__file__).resolve().parents[1] / "data" / FIGURES_FILE  # package data (pyproject)
FORMAT = 1
KINDS: dict[str, str] = {"plain": "no decoder (CE-like)", "ae": "with the AE decoder H (12)"}
ASSUMED_EPOCHS = 20  # when the figures measured no early stop for a kind
# When the figures hold no GPU measurement: an A100-class GPU's effective FP32 rates on these small MLPs.
ASSUMED_GPU = {"train_flops_per_s": 4e12, "eval_flops_per_s": 8e12}


class FiguresError(ValueError):
    """A figures file that cannot be read or lacks what the cost model needs."""


def _linear_weights(dims: tuple[int, ...]) -> int:
    return sum(dims[i] * dims[i + 1] for i in range(len(dims) - 1))


def classifier_weights(input_dim: int, num_classes: int = NUM_CLASSES) -> int:
    """Weights of F: input → 1024 → 1024 → 512 → 512 → K (Section 3.2; K = 4, the paper's classes, by default:
    the output layer is a negligible share of the cost for any K)."""
    return _linear_weights((input_dim, *CLASSIFIER_HIDDEN, num_classes))


def decoder_weights(input_dim: int) -> int:
    """Weights of the AE decoder H: 1024 → 1024 → 1024 → input (Section 3.2)."""
    return _linear_weights((CLASSIFIER_HIDDEN[1], *DECODER_HIDDEN, input_dim))


def method_kind(method: Method) -> str:
    """``ae`` when the method trains the decoder H (AE (12), hence every † row), else ``plain``."""
    return "ae" if method.uses("ae") else "plain"


def train_flops_per_row(
    method: Method, input_dim: int, batch: int, unlabeled_batch: int = 32, ae_on_unlabeled: bool = True
) -> float:
    """Floating-point operations of one training step per labeled row (forward 2 and backward 4 per weight):
    F, plus H for AE (12), plus the M' unlabeled rows per minibatch of AE / PEL (13) shared over its M rows, plus
    the M × M pairwise distances of the contrastive loss on the 512-dim embedding."""
    per_weight = 6.0
    flops = per_weight * classifier_weights(input_dim)
    share = unlabeled_batch / batch
    if method.uses("ae"):
        flops += per_weight * decoder_weights(input_dim)
        if ae_on_unlabeled or method.uses("pel"):
            flops += share * per_weight * classifier_weights(input_dim)
        if ae_on_unlabeled:
            flops += share * per_weight * decoder_weights(input_dim)
    elif method.uses("pel"):
        flops += share * per_weight * classifier_weights(input_dim)
    if method.uses("contrastive"):
        flops += per_weight * batch * CLASSIFIER_HIDDEN[-1]
    return flops


def eval_flops_per_row(input_dim: int) -> float:
    """Floating-point operations of F's forward pass on one row."""
    return 2.0 * classifier_weights(input_dim)


@dataclass(frozen=True)
class Rate:
    """One measured case: its kind, input dimension and batch size, the rates it trained and evaluated at
    (FLOP/s) and its epochs to early stopping (``None``: capped before it stopped)."""

    kind: str
    dims: int
    batch: int
    train_flops_per_s: float
    eval_flops_per_s: float
    epochs: float | None


@dataclass(frozen=True)
class Figures:
    """The rehearsal's rates: where they come from, the threads one trial used, the measured CPU cases, the
    measured GPU cases (``gpu_rates``, on ``gpu_machine``; none: :data:`ASSUMED_GPU`) and how much faster several
    trials sharing one GPU get through their work together (``gpu_sharing``: trials at once → aggregate speed-up
    over one trial alone), Ray's measured overhead in seconds per model (the sweep's wall time less the models'
    own, per model: :func:`ray_overhead`) and, for kinds without a measured early stop, epochs taken from elsewhere
    (a quick run borrows the full run's: ``epochs_source`` says where from)."""

    source: str
    machine: str
    threads: int
    rates: tuple[Rate, ...]
    gpu_rates: tuple[Rate, ...] = ()
    gpu_machine: str | None = None
    gpu_sharing: dict[int, float] = field(default_factory=dict)
    ray_overhead_s: float = 0.0
    fallback_epochs: dict[str, float] = field(default_factory=dict)
    epochs_source: str | None = None

    @property
    def gpu_measured(self) -> bool:
        return bool(self.gpu_rates)

    @classmethod
    def from_dict(cls, raw: dict[str, Any], source: str) -> Figures:
        if raw.get("format") != FORMAT:
            raise FiguresError(f"{source}: format {raw.get('format')!r}, expected {FORMAT}; rerun bench_scale.py")
        gpu = raw.get("gpu") or {}
        try:
            rates = _read_rates(raw["cases"])
            machine, threads = str(raw["machine"]["description"]), int(raw["machine"]["threads_per_trial"])
            gpu_rates = _read_rates(gpu.get("cases", []))
            sharing = {int(s["trials"]): float(s["speedup"]) for s in gpu.get("sharing", [])}
        except (KeyError, TypeError, ValueError) as error:
            raise FiguresError(f"{source}: missing or bad field ({error}); rerun bench_scale.py") from None
        unknown = sorted({rate.kind for rate in (*rates, *gpu_rates)} - set(KINDS))
        if not rates or unknown:
            raise FiguresError(
                f"{source}: needs measured cases of the kinds {', '.join(KINDS)}; got {unknown or 'none'}"
            )
        fallback = dict(raw.get("epochs") or {})
        epochs_source = fallback.pop("source", None)
        return cls(
            source,
            machine,
            threads,
            rates,
            gpu_rates,
            gpu.get("machine"),
            sharing,
            ray_overhead(raw.get("ray") or {}),
            {kind: float(value) for kind, value in fallback.items()},
            epochs_source,
        )

    def rate(self, kind: str, dims: int, batch: int, gpu: bool = False) -> tuple[float, float]:
        """(training, evaluation) FLOP/s of the measured CPU (``gpu``: GPU) cases of ``kind`` (else of any kind)
        nearest in batch size (log scale; ties averaged, so 2048 takes the mean of 1024 and 4096) and then in
        input dimension; :data:`ASSUMED_GPU` for a GPU that was not measured."""
        measured = self.gpu_rates if gpu else self.rates
        if not measured:
            return ASSUMED_GPU["train_flops_per_s"], ASSUMED_GPU["eval_flops_per_s"]
        pool = [r for r in measured if r.kind == kind] or list(measured)
        nearest_batch = min(abs(math.log2(r.batch / batch)) for r in pool)
        pool = [r for r in pool if math.isclose(abs(math.log2(r.batch / batch)), nearest_batch)]
        nearest_dims = min(abs(r.dims - dims) for r in pool)
        pool = [r for r in pool if abs(r.dims - dims) == nearest_dims]
        return (statistics.fmean(r.train_flops_per_s for r in pool), statistics.fmean(r.eval_flops_per_s for r in pool))

    def gpu_speedup(self, trials_at_once: int) -> float:
        """How much more work ``trials_at_once`` trials sharing one GPU do together than one alone: the measured
        speed-up of the largest measured count not above it (1 when none is measured)."""
        counts = [count for count in self.gpu_sharing if count <= trials_at_once]
        return self.gpu_sharing[max(counts)] if counts else 1.0

    def epochs(self, kind: str) -> tuple[float, bool]:
        """(epochs per trial, measured?): the median of the measured early stops of ``kind``, else the fallback
        epochs of ``kind`` (measured elsewhere), else the early stops of any kind, else :data:`ASSUMED_EPOCHS`."""
        stops = [r.epochs for r in self.rates if r.kind == kind and r.epochs]
        if stops:
            return statistics.median(stops), True
        if kind in self.fallback_epochs:
            return self.fallback_epochs[kind], True
        stops = [r.epochs for r in self.rates if r.epochs]
        return (statistics.median(stops), True) if stops else (float(ASSUMED_EPOCHS), False)


def ray_overhead(ray: dict[str, Any]) -> float:
    """Seconds of Ray overhead per model (per results row): ``overhead_s_per_model`` where the figures measured it
    with one Tune trial per configuration (every seed in it), else ``overhead_s_per_trial`` of figures measured
    with one trial per seed (each trial one model)."""
    return float(ray.get("overhead_s_per_model", ray.get("overhead_s_per_trial", 0.0)))


def _read_rates(cases: list[dict[str, Any]]) -> tuple[Rate, ...]:
    """The rates of the measured cases of a figures file."""
    return tuple(
        Rate(
            kind=c["kind"],
            dims=int(c["dims"]),
            batch=int(c["batch"]),
            train_flops_per_s=float(c["train_flops_per_s"]),
            eval_flops_per_s=float(c["eval_flops_per_s"]),
            epochs=float(c["epochs"]) if c.get("early_stopped") else None,
        )
        for c in cases
    )


def load_figures(path: str | Path | None = None) -> Figures:
    """Figures from ``path`` (a JSON file ``bench_scale.py`` wrote), else the packaged ones."""
    path = Path(path) if path is not None else PACKAGED_FIGURES
    try:
        raw = read_json(path)
    except FileNotFoundError:
        raise FiguresError(f"{path}: no such figures file; run benchmarks/bench_scale.py to write one") from None
    except DocumentError as error:
        raise FiguresError(str(error)) from None
    if not isinstance(raw, dict):
        raise FiguresError(f"{path}: expected a JSON object")
    return Figures.from_dict(raw, str(path))


@dataclass(frozen=True)
class TrialRows:
    """A trial's rows per role (Section 3.1 splits)."""

    train: int
    val: int
    test: int
    unlabeled: int


@dataclass(frozen=True)
class TrialCost:
    """Projected seconds of one trial (one model) on the figures' machine (at its threads per trial) and on a GPU,
    the epochs assumed and where they come from (:class:`rdlr.sweep.epochs.Epochs`); ``stage1_s`` is the part spent
    on the stage-1 model of LR (10) / self-KD."""

    cpu_s: float
    gpu_s: float
    epochs: float
    epochs_source: str = "estimated"
    stage1_s: float = 0.0
    stage1_gpu_s: float = 0.0


def _fit_seconds(
    method: Method, rows: TrialRows, dims: int, batch: int, figures: Figures, training: dict[str, Any], epochs: float
) -> tuple[float, float]:
    """(CPU s, GPU s) of training one model of ``method`` for ``epochs`` epochs."""
    kind = method_kind(method)
    train_rate, eval_rate = figures.rate(kind, dims, batch)
    gpu_train_rate, gpu_eval_rate = figures.rate(kind, dims, batch, gpu=True)
    ae_unlabeled = bool(training.get("ae_on_unlabeled", True)) and rows.unlabeled > 0
    train_work = rows.train * train_flops_per_row(method, dims, batch, ae_on_unlabeled=ae_unlabeled)
    per_epoch_rows = rows.val + (rows.train if training.get("cww_split") == "train" and method.uses("cww") else 0)
    per_epoch_rows += rows.test if training.get("eval_test_each_epoch") else 0
    final_rows = rows.val + rows.test + rows.train
    eval_work = eval_flops_per_row(dims) * (epochs * per_epoch_rows + final_rows)
    cpu = epochs * train_work / train_rate + eval_work / eval_rate
    gpu = epochs * train_work / gpu_train_rate + eval_work / gpu_eval_rate
    return cpu, gpu


def trial_cost(
    method: Method,
    rows: TrialRows,
    dims: int,
    batch: int,
    figures: Figures,
    training: dict[str, Any] | None = None,
    epochs: tuple[float, float] | None = None,
    epochs_source: str = "estimated",
) -> TrialCost:
    """Projected cost of one model; a two-stage method adds its stage-1 model (``stage1_s``: the plan counts it
    once per stage-1 model its job trains, :func:`rdlr.sweep.plan.stage1_models`). ``epochs``: (the model's, its
    stage-1 model's), by default :func:`rdlr.sweep.epochs.estimate`'s."""
    from rdlr.sweep.epochs import estimate

    training = dict(training or {})
    if epochs is None:
        config = TrainConfig(**{k: v for k, v in training.items() if k in ("max_epochs", "patience")})
        guess = estimate(rows.train, batch, config.max_epochs, config.patience)
        epochs = (guess, guess)
    cpu, gpu = _fit_seconds(method, rows, dims, batch, figures, training, epochs[0])
    stage1 = stage1_gpu = 0.0
    if method.two_stage:
        stage1_method = method.stage1(str(training.get("lr_stage1", TrainConfig.lr_stage1)))
        stage1, stage1_gpu = _fit_seconds(stage1_method, rows, dims, batch, figures, training, epochs[1])
        cpu, gpu = cpu + stage1, gpu + stage1_gpu
    return TrialCost(cpu, gpu, epochs[0], epochs_source, stage1, stage1_gpu)
