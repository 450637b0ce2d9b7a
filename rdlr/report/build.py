"""Render a sweep's results as tables (the paper's Tables 2 and 3 for its specs), a paired comparison, plots, and an
index.

``render_report(results, out_dir)`` writes ``<out_dir>/<spec_id>/`` (``.../paper-selection/`` for the paper's
protocol): for the paper's specs table2/table3 (+ ``other`` for rows outside the paper's layout), for any other spec
one ``main`` table in the spec's order, each as .md/.tex/.csv; comparison.md/.csv, selection.md/.csv, metrics.md/.csv
(macro-F1, per-class recall; when the results carry them), plots/*.png + .pdf (7 in wide;
each also as ``*-column.png/.pdf``, 3.5 in wide) and README.md, the index (the main
table, the paired comparison, the plots and the spec inline), whose path it returns. Numbers are the test UA (%) of
the configuration chosen by :mod:`rdlr.report.selection`, mean ± 95 % t-interval over seeds; missing cells stay
missing, and rows of the paper's layout without any result are left out unless ``all_rows``. The report is rendered
into a hidden folder beside ``<out_dir>/<spec_id>/`` and swapped in whole, so an interrupted report leaves the
previous one as it was.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import pandas as pd

from rdlr.normalization import DEFAULT_NORMALIZATION
from rdlr.report.cells import Table, build_table
from rdlr.report.class_metrics import class_metrics_frame, has_class_metrics, render_class_metrics
from rdlr.report.compare import compare_methods, render_comparison
from rdlr.report.files import PAPER_SELECTION_DIR, find_spec, staged_folder, write_text
from rdlr.report.layout import (
    MAIN_TABLE,
    PROPOSED,
    TABLE2_FEATURES,
    TABLE3_FEATURES,
    RowKey,
    features_title,
    is_paper_spec,
    load_paper_results,
    method_label,
    order_corpora,
    other_rows,
    paper_lookup,
    spec_rows,
    table2_rows,
    table3_rows,
)
from rdlr.report.normalization import (
    NORMALIZATION_NOTE,
    compare_normalizations,
    normalization_note,
    normalization_section,
    normalization_table,
    normalization_title,
    normalizations,
    render_normalization,
    speaker_fallback_lines,
)
from rdlr.report.plots import check_confusions, plot_confusions, plot_ua, plot_ua_heatmap
from rdlr.report.prose import (
    COMPARISON_NOTE,
    METRICS_NOTE,
    ReportInfo,
    index_markdown,
    layout_notes,
    selection_frame,
    selection_markdown,
    table_notes,
)
from rdlr.report.render import render_csv, render_latex, render_markdown
from rdlr.report.seen import mark_seen
from rdlr.report.selection import check_selection, selected_trials
from rdlr.results import read_results, result_classes, validate_results


def table_title(paper_title: str, features: str, spec: Mapping[str, Any], spec_id: str) -> str:
    """The paper's title for the paper's specs; for any other spec one from its description (or id) and features."""
    if is_paper_spec(spec_id):
        return paper_title
    return f"UA (%) on held-out corpora — {spec.get('description') or spec_id} ({features} input features)"


def build_tables(
    trials: pd.DataFrame,
    columns: Sequence[str],
    n_seeds: int,
    all_rows: bool = False,
    spec: Mapping[str, Any] | None = None,
    spec_id: str = "table2",
    paper_numbers: bool = True,
) -> list[Table]:
    """For the paper's specs (:func:`rdlr.report.layout.is_paper_spec`): Table 2 / Table 3 when any of their rows
    has results (only the rows with results, or with ``all_rows`` all their rows, missing ones as missing), and
    "other" for (features, protocol, method) outside the paper's layout. For any other spec its one table
    (:func:`spec_table`). ``paper_numbers``: set the paper's numbers beside the paper's tables (not for the
    numbers of another normalisation than the paper's)."""
    present = list(dict.fromkeys(zip(trials["features"], trials["protocol"], trials["method"])))
    spec = spec or {}
    if not is_paper_spec(spec_id):
        return [spec_table(trials, columns, n_seeds, spec, spec_id, present)]
    paper = load_paper_results()
    t2_rows, t3_rows = table2_rows(), table3_rows()
    tables = []
    if any(r.key in present for r in t2_rows):
        features = features_title(TABLE2_FEATURES)
        title = table_title(f"Table 2 — UA (%) with {features} input features", features, spec, spec_id)
        tables.append(
            build_table(
                "table2",
                title,
                t2_rows,
                trials,
                columns,
                paper=paper_lookup(2, paper) if paper_numbers else None,
                n_seeds=n_seeds,
                all_rows=all_rows,
            )
        )
    if any(r.key in present for r in t3_rows if r.features in TABLE3_FEATURES):  # its IS10 block repeats Table 2
        features = " and ".join(map(features_title, TABLE3_FEATURES))
        title = table_title(f"Table 3 — UA (%) with {features} input features", features, spec, spec_id)
        tables.append(
            build_table(
                "table3",
                title,
                t3_rows,
                trials,
                columns,
                paper=paper_lookup(3, paper) if paper_numbers else None,
                n_seeds=n_seeds,
                all_rows=all_rows,
            )
        )
    extra = other_rows(present, t2_rows + t3_rows)
    if extra:
        tables.append(
            build_table("other", "Other methods — UA (%)", extra, trials, columns, n_seeds=n_seeds, is_layout=False)
        )
    return tables


def spec_table(
    trials: pd.DataFrame,
    columns: Sequence[str],
    n_seeds: int,
    spec: Mapping[str, Any],
    spec_id: str,
    present: Sequence[RowKey],
) -> Table:
    """The one table of a spec of one's own: every row it names (missing ones shown as missing) in its order
    (:func:`rdlr.report.layout.spec_rows`), a block per feature set, titled from its description (or id)."""
    rows = spec_rows(spec, present)
    features = " and ".join(map(features_title, dict.fromkeys(row.features for row in rows)))
    return build_table(MAIN_TABLE, table_title("", features, spec, spec_id), rows, trials, columns, n_seeds=n_seeds)


def main_table(tables: Sequence[Table], spec_id: str) -> Table:
    """The table the index shows inline: the spec's own (``main``), the paper's table the spec is named after
    (``table3`` for ``table3-paper``), else the first."""
    wanted = spec_id.split("-")[0] if is_paper_spec(spec_id) else MAIN_TABLE
    return next((t for t in tables if t.name == wanted), tables[0])


def render_report(
    results: pd.DataFrame | str | PathLike[str],
    out_dir: str | PathLike[str],
    selection: str = "validation",
    spec: dict[str, Any] | None = None,
    *,
    proposed: str = PROPOSED,
    plots: bool = True,
    all_rows: bool = False,
    spec_text: str | None = None,
) -> Path:
    """Write the report of one sweep and return the path of its index (``README.md``).

    ``results``: the results table (DataFrame) or the path of results.csv / of the spec folder holding it (a spec
    file beside it is read when ``spec`` is None). ``selection``: "validation" (best mean validation UA, default)
    or "paper" (best mean test UA, the paper's protocol; written to ``<spec_id>/paper-selection/``). ``spec``: the
    sweep spec (its ``spec_id``; its ``held_out`` list orders corpora outside the paper's). ``proposed``: the method
    compared against every baseline. ``plots``: draw the figures (PNG and PDF). ``all_rows``: keep the paper's
    full layout, rows without results included (shown as missing). ``spec_text``: the spec file as written, shown
    in the index instead of ``spec`` dumped as YAML.
    """
    check_selection(selection)
    spec = dict(spec or {})
    frame, source, implied = _load(results, spec)
    spec_id = _spec_id(frame, spec, implied, source)
    if "spec_id" in frame.columns:
        frame = frame[frame["spec_id"].isna() | (frame["spec_id"].astype(str) == spec_id)]
    frame = validate_results(frame, source)
    dest = Path(out_dir) / _safe(spec_id) / (PAPER_SELECTION_DIR if selection == "paper" else "")
    trials = selected_trials(frame, selection)
    if plots:
        check_confusions(trials)
    held_out = spec.get("held_out")
    preferred = [str(x) for x in held_out] if isinstance(held_out, (list, tuple)) else []
    info = ReportInfo(
        spec_id,
        selection,
        sorted(frame["seed"].unique().tolist()),
        order_corpora(frame["held_out"], preferred),
        spec,
        spec_text,
        _sweep_runs(results, spec_id),
        normalizations(frame),
    )
    keep = () if selection == "paper" else (PAPER_SELECTION_DIR,)  # the other protocol's report stays
    with staged_folder(dest, keep=keep) as staging:
        _write_outputs(staging, frame, trials, info, plots=plots, proposed=proposed, all_rows=all_rows)
    return dest / "README.md"


def _write_outputs(
    dest: Path,
    frame: pd.DataFrame,
    trials: pd.DataFrame,
    info: ReportInfo,
    *,
    plots: bool,
    proposed: str,
    all_rows: bool,
) -> None:
    """Every file of the report into ``dest`` (a fresh folder, swapped in whole by :func:`staged_folder`). Each
    normalisation of the results (:mod:`rdlr.normalization`) is a block of its own: its tables (the paper's
    ``train`` named as before, the others with ``-<normalisation>`` appended), its comparison of methods and
    confusion plots; normalization.md pairs every other normalisation with ``train``."""
    selection = info.selection
    notes = table_notes(info)
    tables: list[Table] = []
    figures: list[tuple[str, str]] = []
    comparisons = []
    mains = []
    num_classes = len(result_classes(frame))
    for name in normalizations(trials):
        block = trials[trials["normalization"] == name]
        built = build_tables(
            block,
            info.columns,
            len(info.seeds),
            all_rows=all_rows,
            spec=info.spec,
            spec_id=info.spec_id,
            paper_numbers=name == DEFAULT_NORMALIZATION,
        )
        built = [normalization_table(table, name, info.blocks) for table in built]
        mark_seen(built, info.spec)
        block_notes = [*notes, normalization_note(name)]
        figures += _write_tables(
            built, dest, block_notes, selection, plots=plots, proposed=proposed, num_classes=num_classes
        )
        labels = {r.key: r.label for t in built for r in t.rows}
        comparisons.append(compare_methods(block, info.columns, labels, proposed).assign(normalization=name))
        if plots:
            figures += _plot_confusions(block, info.columns, proposed, dest, selection, name)
        tables += built
        mains.append(main_table(built, info.spec_id))
    labels = {r.key: r.label for t in tables for r in t.rows}
    comparison = pd.concat(comparisons, ignore_index=True)
    write_text(dest / "comparison.csv", comparison.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
    write_text(
        dest / "comparison.md",
        render_comparison(comparison, info.columns, method_label(proposed), [notes[0], COMPARISON_NOTE]),
    )
    versus = compare_normalizations(trials, info.columns, labels)
    fallback = speaker_fallback_lines(frame)
    if info.blocks:
        write_text(dest / "normalization.csv", versus.to_csv(index=False, float_format="%.6g", lineterminator="\n"))
        write_text(
            dest / "normalization.md",
            render_normalization(versus, info.columns, [notes[0], NORMALIZATION_NOTE], fallback),
        )
    chosen = selection_frame(frame, selection)
    write_text(dest / "selection.csv", chosen.to_csv(index=False, float_format="%.4f", lineterminator="\n"))
    write_text(dest / "selection.md", selection_markdown(chosen, selection, labels))
    metrics = has_class_metrics(trials)
    if metrics:
        per_class = class_metrics_frame(trials, list(labels))
        write_text(dest / "metrics.csv", per_class.to_csv(index=False, float_format="%.3f", lineterminator="\n"))
        write_text(dest / "metrics.md", render_class_metrics(per_class, labels, [notes[0], METRICS_NOTE]))
    write_text(
        dest / "README.md",
        index_markdown(
            info,
            frame,
            tables,
            figures,
            metrics=metrics,
            main=mains[0],
            comparison=comparison,
            proposed=method_label(proposed),
            blocks=mains[1:],
            normalization=normalization_section(versus, info.columns, fallback) if info.blocks else [],
        ),
    )


def _write_tables(
    tables: Sequence[Table],
    dest: Path,
    notes: list[str],
    selection: str,
    *,
    plots: bool,
    proposed: str,
    num_classes: int = 4,
) -> list[tuple[str, str]]:
    """Each table as .md/.tex/.csv (and its UA bar chart and heatmap when ``plots``); returns the figures'
    (caption, page-sized PNG path; the column-sized one is ``<name>-column.png``)."""
    figures = []
    for table in tables:
        write_text(dest / f"{table.name}.md", render_markdown(table, notes + layout_notes(table)))
        caption = (
            f"Selection: {selection}. UA (%), mean ± half-width of the 95 % t-interval over seeds; "
            "Configs: hyperparameter configurations searched. "
            f"Normalisation: {normalization_title(table.normalization)}."
        )
        write_text(dest / f"{table.name}.tex", render_latex(table, caption))
        write_text(dest / f"{table.name}.csv", render_csv(table))
        if not plots:
            continue
        if plot_ua(table, dest / "plots" / f"ua_{table.name}.png", proposed, f"selection: {selection}", num_classes):
            figures.append((f"UA per held-out corpus: {table.title}", f"plots/ua_{table.name}.png"))
        if plot_ua_heatmap(table, dest / "plots" / f"ua_heatmap_{table.name}.png", f"selection: {selection}"):
            figures.append(
                (f"UA heatmap, methods x held-out corpora: {table.title}", f"plots/ua_heatmap_{table.name}.png")
            )
    return figures


def _plot_confusions(
    trials: pd.DataFrame,
    columns: Sequence[str],
    proposed: str,
    dest: Path,
    selection: str,
    normalization: str = DEFAULT_NORMALIZATION,
) -> list[tuple[str, str]]:
    """Confusion matrices of the proposed method vs out-of-corpus CE, one figure per feature set it was run with
    (the trials of one normalisation; another than the paper's is named in the file and the captions)."""
    proposed_label = method_label(proposed)
    pair = [("ce", method_label("ce")), (proposed, proposed_label)]
    suffix = "" if normalization == DEFAULT_NORMALIZATION else f"-{normalization}"
    said = "" if normalization == DEFAULT_NORMALIZATION else f", normalisation {normalization_title(normalization)}"
    figures = []
    for features in dict.fromkeys(trials.loc[trials["method"] == proposed, "features"]):
        name = f"plots/confusion_{_safe(features)}{suffix}.png"
        title = (
            f"Confusion, rows normalised (counts summed over seeds): {features_title(features)}, selection: {selection}"
            f"{said}"
        )
        if plot_confusions(trials, features, columns, pair, dest / name, title):
            figures.append((f"Confusion matrices, {proposed_label} vs CE, {features_title(features)}{said}", name))
    return figures


def _sweep_runs(results: pd.DataFrame | str | PathLike[str], spec_id: str) -> tuple[str, ...]:
    """The efficiency lines of the sweep runs recorded beside a local results path (:mod:`rdlr.sweep.efficiency`)."""
    from rdlr.io.storage import Storage
    from rdlr.sweep.efficiency import read_runs

    if isinstance(results, pd.DataFrame):
        return ()
    path = Path(results)
    folder = path if path.is_dir() else path.parent
    return tuple(run.line(spec_id) for run in read_runs(Storage(folder)))


def _load(results: pd.DataFrame | str | PathLike[str], spec: dict[str, Any]) -> tuple[pd.DataFrame, str, str | None]:
    """(results, source name for errors, spec id implied by the folder) from a DataFrame or a results path;
    fills an empty ``spec`` from the spec file beside a results path."""
    if isinstance(results, pd.DataFrame):
        return results, "results", None
    path = Path(results)
    folder = path if path.is_dir() else path.parent
    if not spec:
        spec.update(find_spec(folder) or {})
    return read_results(path), str(path), folder.name


def _spec_id(frame: pd.DataFrame, spec: dict[str, Any], implied: str | None, source: str) -> str:
    """The spec id: from the spec, else the results' single ``spec_id``, else the results folder's name."""
    given = next((str(spec[k]) for k in ("spec_id", "id", "name") if spec.get(k)), None)
    in_results = sorted(set(frame["spec_id"].dropna().astype(str))) if "spec_id" in frame.columns else []
    if given and in_results and given not in in_results:
        raise ValueError(f"{source}: spec id {given!r} not in the results (spec_id column: {', '.join(in_results)})")
    if given:
        return given
    if len(in_results) > 1:
        raise ValueError(f"{source}: results of several specs ({', '.join(in_results)}); pass the spec id (--spec-id)")
    if in_results:
        return in_results[0]
    if implied:
        return implied
    raise ValueError(f"{source}: no spec_id column and no spec given; pass spec={{'spec_id': ...}}")


def _safe(name: str) -> str:
    """A file-name-safe form of a spec id or feature set (``is10+w2v`` -> ``is10_w2v``)."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", name).strip("._") or "unnamed"
