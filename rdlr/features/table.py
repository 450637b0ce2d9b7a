"""Reading the feature store into aligned matrices: :func:`load` -> :class:`FeatureTable`.

Feature sets are concatenated in the fixed order of :func:`rdlr.features.registry.parse_feature_sets`
(is10, w2v, bert, whisper, hf-*), whatever order they are asked in, and rows are inner-joined on ``utt_id``; the
manifest columns (labels, speakers, ...) come from the manifest the latest ``rdlr extract`` recorded
(:mod:`rdlr.features.metadata`). Rows come out grouped by corpus in the order asked, sorted by ``utt_id`` within a
corpus. Everything is vectorised: one ``np.frombuffer`` per Arrow chunk and index arrays for the join, no per-row
Python.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa

from rdlr.features.layers import ALL
from rdlr.features.metadata import stored_manifests, with_manifest
from rdlr.features.registry import HF_PREFIX, layered_name, parse_feature_sets, store_name
from rdlr.features.store import FEATURES_COLUMN, DatasetKey, FeatureStore, FeatureStoreError, decode_vectors


class FeatureAlignmentWarning(UserWarning):
    """Rows dropped by the inner join of feature sets on utt_id."""


@dataclass
class FeatureTable:
    """Aligned features: ``x`` (N×D float32), ``meta`` (manifest columns, same row order), the feature sets in
    concatenation order, each one's width (``dims``) and the config hash it was read from."""

    x: np.ndarray
    meta: pd.DataFrame
    feature_sets: list[str]
    dims: dict[str, int]
    config_hashes: dict[str, str] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.x)

    def columns(self, feature_set: str) -> slice:
        """The columns of ``x`` that hold ``feature_set``."""
        start = 0
        for name in self.feature_sets:
            if name == feature_set:
                return slice(start, start + self.dims[name])
            start += self.dims[name]
        raise KeyError(f"feature set {feature_set!r} not in this table; it has {self.feature_sets}")


@dataclass
class _Block:
    name: str
    ids: np.ndarray
    x: np.ndarray
    meta: pd.DataFrame


def _extract_hint(store: FeatureStore, name: str, corpora: Iterable[str]) -> str:
    manifests = " ".join(f"--manifest <{c} manifest.csv>" for c in corpora)
    return f"rdlr extract {manifests} --features {name} --store {store.uri}"


def choose_config(store: FeatureStore, name: str, configs: Mapping[str, str] | None, corpora: list[str] | None) -> str:
    """The config hash to read for feature set ``name``: the one chosen in ``configs`` (keyed by the name asked
    or its store folder), the only one stored, or for ``hf:<dir>`` the one extracted from that folder."""
    stored = store_name(name)
    hashes = store.config_hashes(stored)
    if not hashes:
        raise FeatureStoreError(
            f"feature store {store.uri} has no feature set {stored!r}; it holds:\n{store.describe()}\n"
            f"extract it with: {_extract_hint(store, name, corpora or ['CORPUS'])}"
        )
    configs = dict(configs or {})
    chosen = configs.get(name) or configs.get(stored)
    if chosen:
        if chosen not in hashes:
            raise FeatureStoreError(
                f"feature set {stored!r} has no config {chosen!r} in {store.uri}; stored configs: {', '.join(hashes)}"
            )
        return chosen
    if len(hashes) > 1 and name.startswith(HF_PREFIX):
        wanted = Path(layered_name(name).base[len(HF_PREFIX) :]).expanduser().resolve()
        matching = [
            h
            for h in hashes
            if Path(str(store.read_config(stored, h)["config"].get("model_dir", ""))).expanduser().resolve() == wanted
        ]
        if len(matching) == 1:
            return matching[0]
    if len(hashes) > 1:
        listing = "\n".join(
            f"  {h}: {json.dumps(store.read_config(stored, h).get('config', {}), sort_keys=True)}" for h in hashes
        )
        raise FeatureStoreError(
            f"feature set {stored!r} has {len(hashes)} extractor configs in {store.uri}; choose one with "
            f"configs={{{stored!r}: '<hash>'}}:\n{listing}"
        )
    return hashes[0]


def _read_block(store: FeatureStore, name: str, config_hash: str, corpora: list[str]) -> _Block:
    stored = store_name(name)
    available = store.corpora(stored, config_hash)
    missing = [c for c in corpora if c not in available]
    if missing:
        raise FeatureStoreError(
            f"feature set {stored!r} (config {config_hash}) has no corpus {', '.join(map(repr, missing))} in "
            f"{store.uri}; it has: {', '.join(available) or 'none'}\n"
            f"extract with: {_extract_hint(store, name, missing)}"
        )
    tables = [store.read_table(DatasetKey(stored, config_hash, c)).sort_by("utt_id") for c in corpora]
    table = pa.concat_tables(tables, promote_options="permissive") if len(tables) > 1 else tables[0]
    x = decode_vectors(table.column(FEATURES_COLUMN), where=f" in {stored}/{config_hash}")
    meta = with_manifest(table.drop_columns([FEATURES_COLUMN]).to_pandas(), stored_manifests(store, corpora))
    return _Block(stored, meta["utt_id"].to_numpy(dtype=str), x, meta)


def _missing_reasons(store: FeatureStore, name: str, config_hash: str, corpora: list[str], ids: np.ndarray) -> str:
    errors = [
        store.read_table(DatasetKey(name, config_hash, c), errors=True, columns=["utt_id", "kind"]) for c in corpora
    ]
    table = pa.concat_tables(errors, promote_options="permissive").to_pandas()
    kinds = table.set_index("utt_id")["kind"].reindex(pd.Index(ids)).fillna("not extracted")
    return ", ".join(f"{kind} ×{n}" for kind, n in kinds.value_counts().items())


def _align(store: FeatureStore, blocks: list[_Block], hashes: dict[str, str], corpora: list[str]) -> np.ndarray:
    """Row positions of the common utt_ids in each block (inner join), warning about what was dropped."""
    base = blocks[0]
    keep = np.ones(len(base.ids), dtype=bool)
    positions = []
    for block in blocks[1:]:
        index = pd.Index(block.ids).get_indexer(base.ids)
        keep &= index >= 0
        positions.append(index)
    notes = []
    for block, index in zip(blocks[1:], positions):
        lacking = base.ids[index < 0]
        if len(lacking):
            reasons = _missing_reasons(store, block.name, hashes[block.name], corpora, lacking)
            notes.append(f"{len(lacking)} in {base.name} but not in {block.name} ({reasons})")
        extra = np.setdiff1d(block.ids, base.ids)
        if len(extra):
            reasons = _missing_reasons(store, base.name, hashes[base.name], corpora, extra)
            notes.append(f"{len(extra)} in {block.name} but not in {base.name} ({reasons})")
    if notes:
        dropped = int((~keep).sum()) + sum(len(np.setdiff1d(b.ids, base.ids)) for b in blocks[1:])
        warnings.warn(
            f"load {'+'.join(b.name for b in blocks)} on {', '.join(corpora)}: the inner join on "
            f"utt_id dropped {dropped} row(s): " + "; ".join(notes),
            FeatureAlignmentWarning,
            stacklevel=3,
        )
    return np.stack([np.flatnonzero(keep)] + [index[keep] for index in positions])


def load(
    store: str | Path,
    feature_sets: str | Iterable[str],
    corpora: str | Iterable[str] | None = None,
    configs: Mapping[str, str] | None = None,
) -> FeatureTable:
    """Features of ``corpora`` (default: every corpus of the first feature set) for ``feature_sets``
    (``"is10+w2v+bert"`` or a list; concatenated in the fixed order is10, w2v, bert, whisper, hf-*) from ``store``.

    ``configs`` picks a config hash per feature set where the store holds several. Raises
    :class:`FeatureStoreError` naming what the store holds and the ``rdlr extract`` command to run.
    """
    feature_store = FeatureStore(store)
    names = parse_feature_sets(feature_sets)
    for name in names:
        if layered_name(name).layer == ALL:
            raise ValueError(
                f"feature set {name!r} names every layer; load one ({name[: -len(ALL)]}6) or several joined by '+' "
                f"({name[: -len(ALL)]}6+{name[: -len(ALL)]}12): each layer is its own feature set"
            )
    wanted = [corpora] if isinstance(corpora, str) else (list(corpora) if corpora is not None else None)
    hashes: dict[str, str] = {}
    blocks: list[_Block] = []
    for name in names:
        config_hash = choose_config(feature_store, name, configs, wanted)
        if wanted is None:
            wanted = feature_store.corpora(store_name(name), config_hash)
        hashes[store_name(name)] = config_hash
        blocks.append(_read_block(feature_store, name, config_hash, wanted))
    rows = _align(feature_store, blocks, hashes, wanted or [])
    dims = {block.name: block.x.shape[1] for block in blocks}
    if len(blocks) == 1 and rows.shape[1] == len(blocks[0].ids):
        x = blocks[0].x  # nothing dropped: the decoded matrix as it is
    else:
        x = np.empty((rows.shape[1], sum(dims.values())), dtype=np.float32)
        start = 0
        for block, index in zip(blocks, rows):
            np.take(block.x, index, axis=0, out=x[:, start : start + dims[block.name]])
            start += dims[block.name]
    meta = blocks[0].meta.iloc[rows[0]].reset_index(drop=True)
    for block, index in zip(blocks[1:], rows[1:]):
        extra = [c for c in block.meta.columns if c not in meta.columns]
        if extra:
            meta = pd.concat([meta, block.meta[extra].iloc[index].reset_index(drop=True)], axis=1)
    return FeatureTable(x=x, meta=meta, feature_sets=[b.name for b in blocks], dims=dims, config_hashes=hashes)
