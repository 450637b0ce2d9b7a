"""``rdlr sweep SPEC [--data-root DIR] [--storage PATH] [--address auto]``: run a sweep spec on Ray Tune.

SPEC is a YAML file or a packaged spec name (``table2``, ``table3``, ``demo``). Features must already be in the
feature store (``rdlr extract``, or use ``rdlr reproduce`` for prepare + extract + sweep + report). Results go to
``<storage>/<spec id>/results.csv``; re-running the same command resumes the sweep.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rdlr.ray_session import ray_session
from rdlr.sweep.spec import SpecError, SweepSpec, load_spec, packaged_specs

DEFAULT_STORAGE = "rdlr_runs"
DROPPED_META = ("path", "transcript")  # not needed by trials; kept out of the object store


def configure_parser(parser: argparse.ArgumentParser) -> None:
    """Arguments of ``rdlr sweep``."""
    parser.add_argument("spec", help=f"sweep spec (YAML file, or one of: {', '.join(packaged_specs())})")
    add_common_arguments(parser)


def add_common_arguments(parser: argparse.ArgumentParser) -> None:
    """Options shared by ``rdlr sweep`` and ``rdlr reproduce``."""
    parser.add_argument("--data-root", type=Path, default=None,
                        help="folder the spec's corpus roots, manifests and model paths are relative to")
    parser.add_argument("--storage", default=DEFAULT_STORAGE,
                        help=f"results, Tune state, stage-1 cache and (by default) features: a folder or s3:// URI "
                             f"(default: ./{DEFAULT_STORAGE}; multi-node clusters need s3:// or a shared NFS path)")
    parser.add_argument("--address", default=None,
                        help="Ray cluster to use ('auto' = the running cluster); default: start a local one")
    parser.add_argument("--no-adapt", action="store_true",
                        help="request the spec's trial resources as written (for autoscaling clusters whose GPU "
                             "nodes start on demand) instead of adapting them to the nodes present now")


def resolve_storage(storage: str) -> str:
    """A URI as given, a local path made absolute (Tune needs absolute storage paths)."""
    return storage.rstrip("/") if "://" in storage else str(Path(storage).expanduser().resolve())


def resolve_path(path: str, base: Path | None) -> str:
    """A spec path: URIs and absolute paths as they are, relative ones under ``base`` (``--data-root``)."""
    if "://" in path:
        return path
    expanded = Path(path).expanduser()
    return str(expanded if expanded.is_absolute() else ((base or Path.cwd()) / expanded).resolve())


def feature_store_uri(spec: SweepSpec, storage: str) -> str:
    """The spec's feature store: ``data.store`` (absolute or URI), or relative to the storage path."""
    store = spec.data.store
    if "://" in store or Path(store).expanduser().is_absolute():
        return store
    return f"{storage}/{store}"


def resolved_models(spec: SweepSpec, data_root: Path | None) -> dict[str, str]:
    """Local model paths of the spec, resolved against ``--data-root``."""
    return {key: resolve_path(path, data_root) for key, path in spec.models.items() if path}


def spec_corpora(spec: SweepSpec, data_root: Path | None) -> list[str]:
    """Every corpus the sweep reads; for a ``manifests`` spec, the corpora its manifests name."""
    known = spec.corpora()
    if known is not None:
        return list(known)
    from rdlr.corpora import read_manifest

    names: list[str] = []
    for path in spec.data.manifests:
        for name in read_manifest(resolve_path(path, data_root), check_files=False)["corpus"].astype(str).unique():
            if name not in names:
                names.append(name)
    return names


def check_corpora(spec: SweepSpec, meta: pd.DataFrame, where: str) -> None:
    """The held-out corpora must have labeled utterances and the unlabeled corpus must be present."""
    labels = meta["label"].fillna("").astype(str)
    labeled = sorted(set(meta.loc[labels != "", "corpus"].astype(str)))
    for name in spec.held_out:
        if name not in labeled:
            raise SpecError(f"{where}: held-out corpus {name!r} has no labeled utterances; labeled: {', '.join(labeled)}")
    if spec.unlabeled and spec.unlabeled not in set(meta["corpus"].astype(str)):
        raise SpecError(f"{where}: unlabeled corpus {spec.unlabeled!r} not found; present: "
                        f"{', '.join(sorted(set(meta['corpus'].astype(str))))}")


def load_tables(spec: SweepSpec, store: str, corpora: Sequence[str]) -> dict[str, tuple[np.ndarray, pd.DataFrame]]:
    """``{feature set: (x, meta)}`` for every feature set of the spec, read once from the feature store."""
    from rdlr.features import load

    tables = {}
    for features in spec.features:
        table = load(store, features, list(corpora))
        meta = table.meta.drop(columns=[c for c in DROPPED_META if c in table.meta.columns]).reset_index(drop=True)
        meta["label"] = meta["label"].fillna("").astype(str)  # unlabeled rows: "" (manifest schema)
        check_corpora(spec, meta, f"features {features!r} in {store}")
        tables[features] = (np.ascontiguousarray(table.x, dtype=np.float32), meta)
    return tables


def warn_storage(storage: str, address: str | None) -> None:
    if address and "://" not in storage:
        print(f"note: {storage} is a local path; on a multi-node cluster every node must see it (NFS), "
              "else use --storage s3://...", file=sys.stderr)


def read_results_uri(results_uri: str) -> pd.DataFrame:
    """The results table at a local path or ``s3://`` URI, parsed (not validated: it may still be empty)."""
    import io

    from rdlr.results import parse_results_csv
    from rdlr.storage import Storage

    folder, name = results_uri.rsplit("/", 1)
    return parse_results_csv(io.BytesIO(Storage(folder).read(name)))


def selection_summary(results_uri: str, order: Sequence[tuple[str, str, str]] = ()) -> str:
    """Test UA (%) per row and held-out corpus under validation selection, and under the paper's protocol;
    rows in ``order`` ((features, protocol, method) as in the spec) first."""
    from rdlr.report.selection import select_configs
    from rdlr.results import validate_results

    frame = read_results_uri(results_uri)
    if frame.empty:
        return "no finished trials yet"
    frame = validate_results(frame, results_uri)
    parts = []
    titles = {
        "validation": "Test UA (%) of the configuration with the best mean validation UA over seeds (default)",
        "paper": "Test UA (%) under the paper's protocol (best mean test UA; optimistic by construction)",
    }
    for selection, title in titles.items():
        chosen = select_configs(frame, selection)
        table = chosen.pivot_table(index=["features", "protocol", "method"], columns="held_out",
                                   values="test_ua_mean", sort=False) * 100
        table["Avg"] = table.mean(axis=1)
        rank = {key: i for i, key in enumerate(dict.fromkeys(order))}
        table = table.iloc[sorted(range(len(table)), key=lambda i: rank.get(table.index[i], len(rank)))]
        parts.append(f"{title}:\n{table.round(1).to_string()}")
    return "\n\n".join(parts)


def print_outcome(outcome: Any) -> None:
    """One block at the end of a sweep: counts, failures, where the results are, the selection summary."""
    minutes, seconds = divmod(int(outcome.wall_time_s), 60)
    print(f"\nsweep {outcome.spec_id}: {outcome.rows}/{outcome.planned} trials in the results "
          f"({outcome.new_rows} new, {minutes}m{seconds:02d}s); results: {outcome.results_uri}")
    for error in outcome.errors:
        print(f"  failed: {error}")
    if outcome.rows:
        order = [(o.job.features, o.job.protocol, o.job.method) for o in outcome.jobs]
        print("\n" + selection_summary(outcome.results_uri, order))


def run(args: argparse.Namespace) -> int:
    """Validate the spec, load its features, run (or resume) the sweep, print a summary."""
    started = time.monotonic()
    try:
        spec = load_spec(args.spec)
        storage = resolve_storage(args.storage)
        data_root = args.data_root.expanduser().resolve() if args.data_root else None
        store = feature_store_uri(spec, storage)
        corpora = spec_corpora(spec, data_root)
    except (SpecError, ValueError, FileNotFoundError) as error:
        print(f"rdlr sweep: error: {error}", file=sys.stderr)
        return 2
    warn_storage(storage, args.address)
    from rdlr.features.store import FeatureStoreError
    from rdlr.sweep.driver import SweepError, run_sweep

    with ray_session(args.address, log_to_driver=False):
        try:
            tables = load_tables(spec, store, corpora)
            resolved = {"data_root": str(data_root) if data_root else None, "feature_store": store,
                        "models": resolved_models(spec, data_root)}
            outcome = run_sweep(spec, tables, storage, adapt_resources=not args.no_adapt, resolved=resolved)
        except FeatureStoreError as error:
            print(f"rdlr sweep: error: {error}\n(extract the features first: `rdlr extract`, or run "
                  f"`rdlr reproduce {args.spec}`)", file=sys.stderr)
            return 2
        except (SpecError, SweepError) as error:
            print(f"rdlr sweep: error: {error}", file=sys.stderr)
            return 2
        except KeyboardInterrupt:
            return 130
    print_outcome(outcome)
    print(f"report: rdlr report {storage} --spec-id {spec.id}   ({time.monotonic() - started:.0f}s in all)")
    return 0 if outcome.ok else 1

