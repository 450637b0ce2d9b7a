"""A report of results with several normalisations (rdlr.normalization): each is a block of its own (tables named
``<table>-<normalisation>``, captions naming it, no paper numbers beside a transductive block), normalization.md pairs
each with ``train`` by seed (checked against scipy), and the per-speaker fallback counts are stated."""

from __future__ import annotations

import pandas as pd
import pytest
from scipy import stats

from rdlr.report.build import render_report
from tests.report.test_tables import CORPORA, OWN_SPEC, make_results

GAIN = {"corpus": 0.08, "speaker": 0.1}  # test UA added to every trial of the normalisation


def three_normalisations(spec_id: str) -> pd.DataFrame:
    """The hand-made sweep once per normalisation: train as is, corpus and speaker with a gain that varies by seed;
    the speaker rows carry fallback counts."""
    base = make_results(spec_id=spec_id)
    frames = [base]  # no normalization column: written before it existed, reads as train
    for name, gain in GAIN.items():
        shifted = base.assign(normalization=name, test_ua=base["test_ua"] + gain + 0.01 * base["seed"] ** 2)
        if name == "speaker":
            shifted = shifted.assign(norm_speakers=12, norm_fallback_speakers=2, norm_fallback_rows=17)
        frames.append(shifted.assign(trial_id=shifted["trial_id"] + name))
    return pd.concat(frames, ignore_index=True)


@pytest.fixture(scope="module")
def own_blocks(tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("norm")
    spec = {**OWN_SPEC, "normalization": ["train", "corpus", "speaker"]}
    return render_report(three_normalisations("mine"), out, spec=spec, plots=False).parent


def test_each_normalisation_is_its_own_block_and_every_caption_names_it(own_blocks):
    names = {p.name for p in own_blocks.glob("*.md")}
    assert {"main.md", "main-corpus.md", "main-speaker.md", "normalization.md"} <= names
    for table, said in (
        ("main", "training statistics (the paper's)"),
        ("main-corpus", "per corpus (transductive)"),
        ("main-speaker", "per speaker (transductive, speaker labels)"),
    ):
        markdown = (own_blocks / f"{table}.md").read_text()
        assert f"normalisation: {said}" in markdown.splitlines()[0]
        assert f"Normalisation: {said}." in (own_blocks / f"{table}.tex").read_text()
    assert "Not the paper's protocol" in (own_blocks / "main-corpus.md").read_text()
    assert "Not the paper's protocol" not in (own_blocks / "main.md").read_text()
    readme = (own_blocks / "README.md").read_text()
    assert readme.count("Normalisation: per corpus (transductive).") == 1  # its main table inline, captioned
    assert "## Normalisation: each strategy vs training statistics (the paper's)" in readme
    assert "out-of-corpus, normalisation: per speaker" in (own_blocks / "comparison.md").read_text()


def test_the_paired_comparison_with_train_matches_scipy(own_blocks):
    versus = pd.read_csv(own_blocks / "normalization.csv")
    trials = three_normalisations("mine")
    trials["normalization"] = trials["normalization"].fillna("train")
    chosen = trials[trials["config_id"] == "c1"]  # validation selection picks c1 in every block
    for name in GAIN:
        row = versus[
            (versus["normalization"] == name)
            & (versus["method"] == "ce")
            & (versus["features"] == "is10")
            & (versus["protocol"] == "out_of_corpus")
            & (versus["column"] == "IEM")
        ].iloc[0]
        pick = chosen[
            (chosen["method"] == "ce")
            & (chosen["features"] == "is10")
            & (chosen["held_out"] == "IEM")
            & (chosen["protocol"] == "out_of_corpus")
        ]
        a = pick[pick["normalization"] == name].sort_values("seed")["test_ua"].to_numpy()
        b = pick[pick["normalization"] == "train"].sort_values("seed")["test_ua"].to_numpy()
        assert row["n"] == 3
        assert row["diff_pp"] == pytest.approx(100 * (a - b).mean(), rel=1e-5)  # the CSV keeps 6 digits
        assert row["p"] == pytest.approx(stats.ttest_rel(a, b).pvalue, rel=1e-5)
    assert set(versus["normalization"]) == set(GAIN) and set(versus["column"]) >= set(CORPORA)


def test_per_speaker_fallbacks_are_counted_in_the_report(own_blocks):
    text = (own_blocks / "normalization.md").read_text()
    assert "12 speakers with statistics of their own; 2 speakers with fewer than 20 utterances" in text
    assert "(17 utterances)" in text


def test_the_papers_numbers_stay_beside_train_only(tmp_path):
    folder = render_report(three_normalisations("table2"), tmp_path, spec={"spec_id": "table2"}, plots=False).parent
    assert "## Beside the paper" in (folder / "table2.md").read_text()
    assert "## Beside the paper" not in (folder / "table2-corpus.md").read_text()


def test_a_report_of_train_alone_has_no_blocks(tmp_path):
    folder = render_report(make_results(spec_id="mine"), tmp_path, spec=dict(OWN_SPEC), plots=False).parent
    assert not (folder / "normalization.md").exists() and not list(folder.glob("main-*.md"))
    assert "Normalisation: training statistics (the paper's)." in (folder / "main.tex").read_text()
