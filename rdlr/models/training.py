"""Train one model from manifests with the sweeps' trainer and write it as a model folder (``rdlr train``).

1. read the manifests: labeled ones, optional unlabeled ones (speech for AE (12) and PEL (13); their labels are
   ignored) and optional test ones (scored, never trained on);
2. extract the feature sets the store lacks (Ray Data, :func:`rdlr.features.extract`) and read them with the
   extractor configs this installation builds;
3. split every labeled training corpus into train and validation speakers (:func:`rdlr.corpora.assign_roles`
   with no held-out corpus: the paper's rules for CRE/IEM/IMP/POD, 80/20 of the speakers otherwise, Section 3.1),
   so early stopping and the learning-rate schedule of Section 3.2 see unseen speakers;
4. train with :func:`rdlr.train.run_trial` and save the best epoch's classifier with its z-normalisation
   statistics, feature configs and metrics (:mod:`rdlr.models.folder`).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rdlr.corpora import assign_roles, read_manifest
from rdlr.io.tracking import TENSORBOARD_DIR, TrainTracking, each, prepare_mlflow
from rdlr.labels import DEFAULT, VOTE_PREFIX, LabelSet
from rdlr.methods import Method, get_method
from rdlr.models.card import README_FILE
from rdlr.models.extractors import model_extractors, spec_of
from rdlr.models.folder import CARD_FILE, FeatureSpec, ModelCard, ModelFolderError, save_model
from rdlr.normalization import DEFAULT_NORMALIZATION, DESCRIPTIONS, MIN_SPEAKER_UTTERANCES, check_normalization
from rdlr.train import TrainConfig, TrialData, run_trial
from rdlr.train.batches import TRAIN_MIN_STEPS, data_sized_batch, steps_per_epoch

SOURCES = ("labeled", "unlabeled", "test")
SPLIT_RULE = (
    "each labeled training corpus split into train/val by speaker: the paper's rule for CRE, IEM, IMP "
    "and POD (Section 3.1), 80/20 of the speakers (seeded draw) for any other corpus"
)

Log = Callable[[str], None]
DEFAULT_THREADS = (
    1  # torch threads of rdlr train, as a demo sweep's trial: see train_model and benchmarks/bench_train_vs_trial.py
)


def batch_size_for(
    hparams: Mapping[str, Any] | None, resolved: Mapping[str, Any], train_rows: int, log: Log
) -> dict[str, Any]:
    """``resolved`` with a data-sized M (:func:`rdlr.train.batches.data_sized_batch`) where the user gave none
    and the default leaves fewer than :data:`TRAIN_MIN_STEPS` steps per epoch; says so, or warns about a given M
    that leaves that few."""
    given = "batch_size" in (hparams or {})
    batch = int(resolved["batch_size"])
    steps = steps_per_epoch(train_rows, batch)
    if steps >= TRAIN_MIN_STEPS:
        return dict(resolved)
    if given:
        log(
            f"warning: batch_size {batch} gives {steps} step(s) per epoch on {train_rows} training utterances; "
            f"fewer than {TRAIN_MIN_STEPS} train poorly"
        )
        return dict(resolved)
    sized = data_sized_batch(train_rows, batch)
    log(
        f"batch_size {sized} (the default {batch} would give {steps} step(s) per epoch on {train_rows} training "
        f"utterances; {sized} gives {steps_per_epoch(train_rows, sized)}); set --hparam batch_size=N to choose"
    )
    return {**resolved, "batch_size": sized}


def epoch_line(stage: str | None, record: Mapping[str, Any], best: tuple[int, float]) -> str:
    """One epoch of training as a console line: stage, loss terms, validation UA, learning rate, best so far."""
    terms = " ".join(
        f"{key.split('/', 1)[1]} {value:.4f}"
        for key, value in record.items()
        if key.startswith("loss/") and key != "loss/total"
    )
    prefix = f"{stage} " if stage else ""
    return (
        f"  {prefix}epoch {record['epoch']:>3}: loss {record['loss/total']:.4f} ({terms}), "
        f"val UA {100 * record['val_ua']:.1f}%, lr {record['lr']:.1e}, best epoch {best[0]} "
        f"({100 * best[1]:.1f}%)"
    )


class EpochPrinter:
    """The per-epoch callback of :func:`rdlr.train.run_trial` for one stage: logs :func:`epoch_line`, tracking the
    best epoch as early stopping does (a strictly better validation UA)."""

    def __init__(self, log: Log, stage: str | None = None) -> None:
        self.log, self.stage, self.best = log, stage, (0, -1.0)

    def __call__(self, record: dict[str, Any]) -> None:
        if record["val_ua"] > self.best[1]:
            self.best = (int(record["epoch"]), float(record["val_ua"]))
        self.log(epoch_line(self.stage, record, self.best))


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run with ``count`` intra-op threads (``None``: as they are), restoring the previous count."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(max(1, int(count if count is not None else before)))
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class TrainOutcome:
    """The written model folder, its card, utterances left out for lack of features, and the time taken."""

    folder: Path
    card: ModelCard
    without_features: int
    wall_time_s: float


def read_manifests(
    labeled: Sequence[str | os.PathLike[str]],
    unlabeled: Sequence[str | os.PathLike[str]] = (),
    test: Sequence[str | os.PathLike[str]] = (),
) -> pd.DataFrame:
    """All manifests in one table with a ``source`` column (labeled / unlabeled / test); utt_ids unique."""
    frames = []
    for source, paths in zip(SOURCES, (labeled, unlabeled, test)):
        for path in paths:
            frame = read_manifest(path, check_files=False)
            if source == "unlabeled":
                frame["label"] = ""
                for column in frame.columns:
                    if column.startswith(VOTE_PREFIX):
                        frame[column] = np.nan
            frames.append(frame.assign(source=source))
    if not any(len(frame) for frame in frames):
        raise ValueError("no utterances: give at least one labeled manifest (--manifest)")
    manifest = pd.concat(frames, ignore_index=True)
    repeated = manifest["utt_id"][manifest["utt_id"].duplicated()]
    if len(repeated):
        raise ValueError(
            f"utt_id repeated across manifests: {repeated.iloc[:5].tolist()} ({len(repeated)} in all); "
            "utt_id must be unique"
        )
    tested = set(manifest.loc[manifest["source"] == "test", "corpus"])
    clash = sorted(tested & set(manifest.loc[manifest["source"] != "test", "corpus"]))
    if clash:
        raise ValueError(
            f"corpus {', '.join(clash)} is in a test manifest and a training manifest; a test corpus "
            "must be unseen (give its utterances another corpus name, or drop one of the manifests)"
        )
    return manifest


def training_features(
    manifest: pd.DataFrame, feature_sets: str | Sequence[str], store: str, models: Mapping[str, str]
) -> tuple[np.ndarray, pd.DataFrame, list[FeatureSpec]]:
    """Features of the manifest's utterances read from ``store`` with this installation's extractor configs:
    (x, the manifest rows that have features, in the same order, the model's feature specs)."""
    from rdlr.features import build_extractor, load, parse_feature_sets
    from rdlr.features.registry import store_name

    extractors = {store_name(name): build_extractor(name, models) for name in parse_feature_sets(feature_sets)}
    configs = {name: extractor.config.config_hash() for name, extractor in extractors.items()}
    corpora = list(dict.fromkeys(manifest["corpus"].astype(str)))
    table = load(store, list(extractors), corpora, configs=configs)
    keep = table.meta["utt_id"].astype(str).isin(set(manifest["utt_id"])).to_numpy()
    ids = table.meta["utt_id"].astype(str).to_numpy()[keep]
    meta = manifest.set_index("utt_id").loc[ids].reset_index()
    specs = [spec_of(name, extractors[name], table.dims[name]) for name in table.feature_sets]
    model_extractors(specs, f"feature store {store}")  # the model must be able to rebuild what it trains on
    return np.ascontiguousarray(table.x[keep], dtype=np.float32), meta, specs


def apply_labels(manifest: pd.DataFrame, labels: LabelSet, log: Log) -> pd.DataFrame:
    """The manifest rows ``labels`` keeps, labels as classes; logs the emotions it leaves out per corpus."""
    applied = labels.apply(manifest)
    for corpus, emotions in applied.left_out.items():
        counts = ", ".join(f"{emotion} {count}" for emotion, count in emotions.items())
        log(f"{corpus}: left out {sum(emotions.values())} utterance(s) of emotions outside the classes ({counts})")
    return applied.meta


def check_labeled(mapped: pd.DataFrame, labels: LabelSet) -> None:
    """Every class has an utterance in the labeled manifests (``mapped``: :func:`apply_labels`'s rows): a ValueError
    naming ``--labels``, the class and the corpora else."""
    labeled = mapped[mapped["source"] == "labeled"]
    found = set(labeled["label"])
    for name in labels.classes:
        if name not in found:
            corpora = ", ".join(dict.fromkeys(labeled["corpus"].astype(str))) or "none"
            raise ValueError(
                f"--labels: class {name!r} has no utterance in the labeled manifests ({corpora}); valid: classes "
                f"they have, or map an emotion onto it with --label-map (labels now: {', '.join(labels.classes)})"
            )


def check_trainable(data: TrialData, labels: LabelSet) -> None:
    """Every class has a training utterance: a ValueError naming ``--labels``, the class and the corpora else."""
    counts = np.bincount(data.labels[data.indices("train")], minlength=data.num_classes)
    for name, count in zip(data.classes, counts):
        if count == 0:
            raise ValueError(
                f"--labels: class {name!r} has no training utterance in {', '.join(data.corpora('train'))}; "
                f"valid: classes the corpora have, or map an emotion onto it with --label-map "
                f"(labels now: {', '.join(labels.classes)})"
            )


def training_roles(meta: pd.DataFrame, split_seed: int) -> np.ndarray:
    """train/val (by speaker, per corpus) for labeled rows, unlabeled for unlabeled ones, test for test ones."""
    roles = np.full(len(meta), "test", dtype=object)
    trainable = (meta["source"] != "test").to_numpy()
    roles[trainable] = assign_roles(meta[trainable], "out_of_corpus", None, seed=split_seed).to_numpy()
    return roles.astype(str)


def role_counts(data: TrialData) -> dict[str, dict[str, int]]:
    """Utterances per corpus and role."""
    frame = pd.DataFrame({"corpus": data.corpus, "role": data.roles})
    return {
        corpus: {role: int(n) for role, n in rows["role"].value_counts().sort_index().items()}
        for corpus, rows in frame.groupby("corpus", sort=True)
    }


def build_card(
    result: Any,
    data: TrialData,
    specs: Sequence[FeatureSpec],
    method: Method,
    hparams: Mapping[str, Any],
    seed: int,
    training: Mapping[str, Any],
    labels: LabelSet = DEFAULT,
) -> ModelCard:
    """The card of a model trained by :func:`rdlr.train.run_trial` (``result`` is its ``TrialResult``)."""
    metrics = dict(result.final)
    if result.stage1 is not None:
        metrics["stage1"] = dict(result.stage1["final"])
    return ModelCard(
        classes=labels.classes,
        label_map=labels.label_map,
        features=tuple(specs),
        feature_mean=result.state_dict["feature_mean"].numpy(),
        feature_std=result.state_dict["feature_std"].numpy(),
        method={"id": method.id, "label": method.label, "components": sorted(method.components)},
        hparams=method.used_hparams(method.resolve_hparams(hparams)),
        seed=int(seed),
        training={**training, "corpora": role_counts(data), "wall_time_s": round(result.wall_time_s, 3)},
        metrics=metrics,
        history=list(result.history),
        normalization=data.normalization,
    )


def speaker_note(data: TrialData) -> str:
    """Under per-speaker normalisation: how many speakers got statistics of their own and how many utterances fell
    back to their corpus' (``""`` otherwise)."""
    if data.normalization != "speaker":
        return ""
    groups = data.used_groups()
    return (
        f"; {groups.speakers} speakers with statistics of their own, {groups.fallback_speakers} with fewer than "
        f"{MIN_SPEAKER_UTTERANCES} utterances ({groups.fallback_rows} utterances on their corpus' statistics)"
    )


def train_model(
    manifests: Sequence[str | os.PathLike[str]],
    features: str | Sequence[str],
    method: str,
    out: str | os.PathLike[str],
    store: str,
    *,
    hparams: Mapping[str, Any] | None = None,
    seed: int = 0,
    unlabeled_manifests: Sequence[str | os.PathLike[str]] = (),
    test_manifests: Sequence[str | os.PathLike[str]] = (),
    models: Mapping[str, str] | None = None,
    training: Mapping[str, Any] | None = None,
    split_seed: int = 0,
    normalization: str = DEFAULT_NORMALIZATION,
    device: str = "cpu",
    workers: int | None = None,
    address: str | None = None,
    progress: bool = True,
    epoch_lines: bool = True,
    threads: int | None = DEFAULT_THREADS,
    verbose: bool = False,
    overwrite: bool = False,
    mlflow: str | None = None,
    labels: LabelSet = DEFAULT,
    log: Log = print,
) -> TrainOutcome:
    """Train one model on the manifests' utterances and write the model folder ``out`` (see the module doc).

    ``training`` overrides :class:`rdlr.train.TrainConfig` fields (e.g. ``{"max_epochs": 30}``); ``models`` maps
    ``w2v``/``bert``/``whisper`` to local model paths as in ``rdlr extract``; ``address`` and ``verbose`` as
    there (features the store lacks are extracted on a private local Ray unless ``address`` or ``RAY_ADDRESS``
    names a cluster). Without a ``batch_size`` in ``hparams``, M is sized from the training rows
    (:func:`batch_size_for`). ``epoch_lines``: log one line per epoch (stage 1 and stage 2 of LR / self-KD).
    ``labels``: the classes (output order) and the label map from the manifests' emotions onto them
    (:mod:`rdlr.labels`; default the paper's four); utterances of other emotions are left out and counted.
    ``threads``: torch's intra-op threads while training (``None``: torch's default, one per core). One by default:
    on an idle 2-core machine 2 threads were 1.5× faster (7.2 s against 10.7 s), but on a loaded machine the extra
    threads' busy waiting made the same training 10× slower than the sweep trial of one CPU (350 s against 34 s on
    2 busy cores, ``benchmarks/bench_train_vs_trial.py``). Each epoch's numbers go to TensorBoard events in
    ``<out>/tensorboard`` and, given an ``mlflow`` tracking URI, to one MLflow run (:mod:`rdlr.io.tracking`).
    ``normalization``: how the inputs are z-normalised (:mod:`rdlr.normalization`): with the training rows'
    statistics (the paper's), per corpus or per speaker (the test manifests' corpora with their own statistics);
    the folder records it, and ``rdlr predict`` normalises the same way.
    """
    import torch

    from rdlr.features import extract

    started = time.perf_counter()
    if (Path(out) / CARD_FILE).exists() and not overwrite:  # before any work, and before tensorboard/ is written
        raise ModelFolderError(f"{out} already holds a model ({CARD_FILE}); choose another folder or overwrite")
    if mlflow:
        prepare_mlflow(mlflow)  # MLflow missing: one error line before any work
    check_normalization(normalization, "--normalization")
    chosen = get_method(method)
    resolved = chosen.resolve_hparams(hparams)
    config = TrainConfig(**dict(training or {}), device=device)
    manifest = read_manifests(manifests, unlabeled_manifests, test_manifests)
    mapped = apply_labels(manifest, labels, log)
    check_labeled(mapped, labels)  # before extraction (and Ray): a class no labeled manifest has
    summary = extract(
        manifest.drop(columns="source"),
        features,
        store,
        workers=workers,
        device=device,
        models=models,
        address=address,
        progress=progress,
        verbose=verbose,
    )
    log(summary.format())
    x, meta, specs = training_features(mapped, features, store, models or {})
    without = len(mapped) - len(meta)
    if without:
        log(
            f"{without} utterance(s) have no features (unreadable audio; see the errors tables in {store}) "
            "and are left out"
        )
    data = TrialData.from_table(x, meta, training_roles(meta, split_seed), labels, normalization=normalization)
    check_trainable(data, labels)
    train_rows = len(data.indices("train"))
    resolved = batch_size_for(hparams, resolved, train_rows, log)
    log(
        f"training {chosen.id} on {train_rows} utterances, validating on "
        f"{len(data.indices('val'))} ({', '.join(data.corpora('train'))}); seed {seed}"
    )
    log(
        "hyperparameters: "
        + ", ".join(f"{name} {value}" for name, value in chosen.used_hparams(resolved).items())
        + f"; classes {', '.join(labels.classes)}"
    )
    log(f"normalisation: {DESCRIPTIONS[normalization]}" + speaker_note(data))
    two_stage = chosen.two_stage
    on_epoch = EpochPrinter(log, "stage 2" if two_stage else None) if epoch_lines else None
    on_stage1 = EpochPrinter(log, "stage 1") if epoch_lines and two_stage else None
    params = {
        "method": chosen.id,
        **resolved,
        "seed": seed,
        "split_seed": split_seed,
        "normalization": normalization,
        "features": features if isinstance(features, str) else "+".join(features),
        **{f"corpora.{role}": ",".join(data.corpora(role)) for role in ("train", "unlabeled", "test")},
        **{f"training.{key}": value for key, value in asdict(config).items()},
    }
    log(f"TensorBoard events: {Path(out) / TENSORBOARD_DIR}" + (f"; MLflow run at {mlflow}" if mlflow else ""))
    with TrainTracking(Path(out) / TENSORBOARD_DIR, two_stage, mlflow, Path(out).name, params) as tracking:
        with torch_threads(threads):
            result = run_trial(
                data,
                chosen,
                resolved,
                seed,
                config=config,
                on_epoch=each(on_epoch, tracking.epochs(2)),
                on_stage1_epoch=each(on_stage1, tracking.epochs(1)) if two_stage else None,
                log=log,
            )
            used_threads = torch.get_num_threads()
        info = {
            "command": "rdlr train",
            "data": {
                "manifests": [str(Path(p).resolve()) for p in manifests],
                "unlabeled_manifests": [str(Path(p).resolve()) for p in unlabeled_manifests],
                "test_manifests": [str(Path(p).resolve()) for p in test_manifests],
                "feature_store": str(store),
            },
            "split": {"protocol": "out_of_corpus", "held_out": None, "split_seed": split_seed, "rule": SPLIT_RULE},
            "config": asdict(config), "utterances_without_features": without, "threads": used_threads,
        }  # fmt: skip
        card = build_card(result, data, specs, chosen, resolved, seed, info, labels)
        folder = save_model(out, card, result.state_dict["classifier"], overwrite=overwrite)
        tracking.finish(card.metrics, [folder / CARD_FILE, folder / README_FILE])
    return TrainOutcome(folder, card, without, time.perf_counter() - started)
