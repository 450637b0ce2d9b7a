"""What a spec reads: paths, the corpora's manifest, the feature store and the feature tables (the steps of
:func:`rdlr.sweep.resolved.resolve_run` and the stages of ``rdlr reproduce`` and ``rdlr sweep``).

Relative paths of a spec (corpus roots, manifests, model paths) resolve against ``--data-root`` (else the
working directory); the feature store (``data.store``) resolves against the storage path.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rdlr.corpora.manifest import check_unique_ids
from rdlr.corpora.splits import OUT_OF_CORPUS
from rdlr.features.registry import HF_PREFIX, parse_feature_sets
from rdlr.io.safe_text import read_json
from rdlr.labels import LabelSet
from rdlr.spec.core import SpecError, SweepSpec
from rdlr.spec.jobs import JOB_ORDER

DROPPED_META = ("path", "transcript")  # not needed by trials; kept out of the object store
DEMO_DATA = "demo_data"  # where the demo corpora are generated, beside the results


def resolve_storage(storage: str) -> str:
    """A URI as given, a local path made absolute (Tune needs absolute storage paths)."""
    return storage.rstrip("/") if "://" in storage else str(Path(storage).expanduser().resolve())


def resolve_path(path: str, base: Path | None) -> str:
    """A spec path: URIs and absolute paths as they are, relative ones under ``base`` (``--data-root``)."""
    if "://" in path:
        return path
    expanded = Path(path).expanduser()
    return str(expanded if expanded.is_absolute() else ((base or Path.cwd()) / expanded).resolve())


def resolve_data_root(data_root: Path | None) -> Path | None:
    """``--data-root`` made absolute (``None`` stays ``None``: paths then resolve against the working directory)."""
    return data_root.expanduser().resolve() if data_root else None


def demo_data_root(data_root: Path | None, storage: str) -> Path:
    """Where the demo corpora are generated: ``data_root``, else beside the results (a local storage path), else
    ``./demo_data``."""
    if data_root:
        return data_root.expanduser().resolve()
    if "://" in storage:
        return Path(DEMO_DATA).resolve()
    return Path(storage) / DEMO_DATA


def feature_store_uri(spec: SweepSpec, storage: str) -> str:
    """The spec's feature store: ``data.store`` (absolute or URI), or relative to the storage path."""
    store = spec.data.store
    if "://" in store or Path(store).expanduser().is_absolute():
        return store
    return f"{storage}/{store}"


def resolved_models(spec: SweepSpec, data_root: Path | None) -> dict[str, str]:
    """Local model paths of the spec, resolved against ``--data-root``."""
    return {key: resolve_path(path, data_root) for key, path in spec.models.items() if path}


def feature_components(spec: SweepSpec) -> list[str]:
    """Every single feature set the spec's combinations use (``is10+w2v`` -> ``is10``, ``w2v``)."""
    return parse_feature_sets(list(spec.features))


def extraction_options(spec: SweepSpec) -> dict[str, Any]:
    """Extractor settings the spec sets beyond the model paths, as keyword arguments of
    :func:`rdlr.features.extract`: ``hf_layer`` (``HFEncoderConfig.layer`` of the ``hf:<dir>`` encoders, the spec's
    ``hf.layer``; ``rdlr extract --hf-layer``); empty when unset."""
    return {"hf_layer": spec.hf.layer} if spec.hf is not None else {}


def feature_configs(spec: SweepSpec) -> dict[str, str] | None:
    """The extractor config to read per ``hf:<dir>`` feature set when the spec picks the encoder layer
    (:func:`rdlr.features.load`'s ``configs``: the store may hold several layers of one encoder)."""
    if spec.hf is None:
        return None
    from rdlr.features.hf_encoder import HFEncoderConfig
    from rdlr.features.registry import build_extractor, layered_name

    configs = {}
    for name in feature_components(spec):
        if not name.startswith(HF_PREFIX) or layered_name(name).layer is not None:
            continue  # hf:<dir>@N names its layer: one config per store folder
        model_dir = Path(name[len(HF_PREFIX) :]).expanduser()
        config_file = model_dir / "config.json"
        if config_file.is_file() and read_json(config_file).get("model_type") == "whisper":
            configs[name] = build_extractor(name, hf_layer=spec.hf.layer).outputs()[0].config.config_hash()
        else:
            configs[name] = HFEncoderConfig(model_dir=str(model_dir), layer=spec.hf.layer).config_hash()
    return configs


def spec_corpora(spec: SweepSpec, data_root: Path | None) -> list[str]:
    """Every corpus the sweep reads; for a ``manifests`` spec, the corpora its manifests name, checked (before Ray
    starts) to hold the held-out corpora with labels and the unlabeled corpus."""
    known = spec.corpora()
    if known is not None:
        return list(known)
    from rdlr.corpora import read_manifest

    frames = [
        read_manifest(resolve_path(path, data_root), check_files=False)[["corpus", "label"]]
        for path in spec.data.manifests
    ]
    meta = pd.concat(frames, ignore_index=True)
    names = list(dict.fromkeys(meta["corpus"].astype(str)))
    for what, wanted in (("held_out", spec.held_out), ("unlabeled", (spec.unlabeled,) if spec.unlabeled else ())):
        unknown = [name for name in wanted if name not in names]
        if unknown:
            raise SpecError(
                f"{what}: unknown corpus {unknown[0]!r}: no row of data.manifests names it; the "
                f"manifests hold: {', '.join(names)}"
            )
    check_manifest(spec, meta, "data.manifests")
    return names


def prepare_manifest(spec: SweepSpec, data_root: Path | None, log: Callable[[str], None] = print) -> pd.DataFrame:
    """The manifest of every corpus the spec reads (one schema, :mod:`rdlr.corpora`): the demo generator, the
    corpus loaders (``log`` names each corpus and its root) or the spec's manifest files."""
    from rdlr.corpora import load_corpus, read_manifest

    if spec.data.source == "demo":
        return load_corpus("demo", data_root, seed=spec.data.demo_seed)
    frames = []
    if spec.data.source == "real":
        for name, source in spec.data.corpora.items():
            root = resolve_path(source.root, data_root)
            log(f"{name}: {source.loader} corpus at {root}")
            frame = load_corpus(source.loader, root, **source.options)
            found = sorted(set(frame["corpus"].astype(str)))
            if found != [name]:
                raise SpecError(
                    f"data.corpora.{name}: the {source.loader} loader names its corpus "
                    f"{', '.join(found)}; use that name as the key (held_out refers to it)"
                )
            frames.append(frame)
    else:
        for path in spec.data.manifests:
            frames.append(read_manifest(resolve_path(path, data_root)))
    manifest = pd.concat(frames, ignore_index=True)
    check_unique_ids(manifest, "data (the spec's corpora together)")
    return manifest


def check_manifest(spec: SweepSpec, manifest: pd.DataFrame, where: str) -> None:
    """:func:`check_corpora` and :func:`check_classes` (under the spec's class set) on a manifest of the spec's
    corpora, e.g. the one :func:`prepare_manifest` returns, so that ``rdlr reproduce`` refuses a class without
    training utterances before Ray starts; ``where`` names the manifest in the one-line :class:`SpecError`."""
    labels = manifest[["corpus", "label"]].fillna("").astype(str)
    check_corpora(spec, labels, where)
    check_classes(spec, spec.label_set().apply(labels).meta, where)


def check_corpora(spec: SweepSpec, meta: pd.DataFrame, where: str) -> None:
    """The held-out corpora must have labeled utterances and the unlabeled corpus must be present."""
    labels = meta["label"].fillna("").astype(str)
    labeled = sorted(set(meta.loc[labels != "", "corpus"].astype(str)))
    for name in spec.held_out:
        if name not in labeled:
            raise SpecError(
                f"{where}: held-out corpus {name!r} has no labeled utterances; labeled: {', '.join(labeled)}"
            )
    if spec.unlabeled and spec.unlabeled not in set(meta["corpus"].astype(str)):
        raise SpecError(
            f"{where}: unlabeled corpus {spec.unlabeled!r} not found; present: "
            f"{', '.join(sorted(set(meta['corpus'].astype(str))))}"
        )


def class_summary(labels: LabelSet, meta: pd.DataFrame, left_out: dict[str, dict[str, int]]) -> dict[str, Any]:
    """What a run's class set found, for the report's header (saved under ``resolved.labels`` of spec.yaml): the
    classes, the label map and per corpus the classes present (with utterances) and the emotions left out."""
    labeled = meta[meta["label"] != ""]
    counts = labeled.groupby(["corpus", "label"]).size()
    corpora = sorted(set(labeled["corpus"].astype(str)) | set(left_out))
    return {
        "classes": list(labels.classes),
        "label_map": labels.label_map,
        "corpora": {
            corpus: {
                "classes": {
                    name: int(counts.get((corpus, name), 0)) for name in labels.classes if counts.get((corpus, name), 0)
                },
                "left_out": dict(left_out.get(corpus, {})),
            }
            for corpus in corpora
        },
    }


def check_classes(spec: SweepSpec, meta: pd.DataFrame, where: str) -> None:
    """Every class has training utterances in every job (its training corpora: the labeled corpora but the held-out
    one out of corpus, the held-out one within corpus); a one-line :class:`SpecError` naming ``labels``, the job's
    corpora and the class else. ``meta``'s labels are classes (:meth:`rdlr.labels.LabelSet.apply`)."""
    labeled = meta[meta["label"] != ""]
    present = labeled.groupby("corpus")["label"].agg(set).to_dict()
    classes = spec.label_set().classes
    for protocol in JOB_ORDER:
        if not getattr(spec.protocols, protocol):
            continue
        for held_out in spec.held_out:
            corpora = [c for c in present if c != held_out] if protocol == OUT_OF_CORPUS else [held_out]
            found = set().union(*(present.get(c, set()) for c in corpora))
            missing = [name for name in classes if name not in found]
            if missing:
                raise SpecError(
                    f"labels: class {missing[0]!r} has no training utterance in the {protocol} job held out "
                    f"{held_out} ({where}; training corpora {', '.join(sorted(corpora)) or 'none'}); valid: classes "
                    f"they have ({', '.join(name for name in classes if name in found) or 'none'}), or map an "
                    "emotion onto it in label_map"
                )


def check_stored_classes(spec: SweepSpec, store: str, corpora: Sequence[str]) -> None:
    """:func:`check_classes` on the manifests the feature store holds for ``corpora`` (what ``rdlr sweep`` will
    train on), read without Ray; nothing when the store holds none (a new store, or one written before manifests
    were kept apart: :func:`load_tables` checks the tables then)."""
    from rdlr.features.metadata import stored_manifests
    from rdlr.features.store import FeatureStore

    meta = stored_manifests(FeatureStore(store), list(corpora))
    if meta is not None:
        labels = meta[["corpus", "label"]].fillna("").astype(str)
        check_classes(spec, spec.label_set().apply(labels).meta, f"the manifests in {store}")


def load_tables(
    spec: SweepSpec,
    store: str,
    corpora: Sequence[str],
    object_store: bool = False,
    summary: dict[str, Any] | None = None,
) -> dict[str, tuple[Any, pd.DataFrame]]:
    """``{feature set: (x, meta)}`` for every feature set of the spec, read once from the feature store, restricted
    to the rows of the spec's class set (:func:`rdlr.train.data.labeled_table`: labels as classes; rows of other
    emotions left out, counted in ``summary`` when given, :func:`class_summary`).

    With ``object_store`` (Ray initialised), each matrix moves into Ray's object store as soon as it is read and
    ``x`` is its ``ObjectRef``: the driver then holds no copy of its own beside the one the trials share, and at
    most one feature set's matrix is in its memory at a time.
    """
    from rdlr.features import load
    from rdlr.train.data import labeled_table

    labels = spec.label_set()
    tables: dict[str, tuple[Any, pd.DataFrame]] = {}
    for features in spec.features:
        table = load(store, features, list(corpora), configs=feature_configs(spec))
        meta = table.meta.drop(columns=[c for c in DROPPED_META if c in table.meta.columns]).reset_index(drop=True)
        meta["label"] = meta["label"].fillna("").astype(str)  # unlabeled rows: "" (manifest schema)
        x, meta, left_out = labeled_table(table.x, meta, labels)
        del table
        where = f"features {features!r} in {store}"
        check_corpora(spec, meta, where)
        check_classes(spec, meta, where)
        if summary is not None and not summary:
            summary.update(class_summary(labels, meta, left_out))
        x = np.ascontiguousarray(x, dtype=np.float32)  # the table's own array when already float32
        if object_store:
            import ray

            x = ray.put(x)
        tables[features] = (x, meta)
    return tables
