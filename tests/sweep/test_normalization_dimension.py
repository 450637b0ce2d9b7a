"""The ``normalization`` spec key as a sweep dimension: one job per listed normalisation (counted by the plan), the
results column (old tables read as ``train``), trial keys and job names of ``train`` unchanged (old sweeps resume),
and the rows a worker prepares."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest

from rdlr.results import results_frame, trial_key, validate_results
from rdlr.spec import SpecError, SweepSpec, load_spec
from rdlr.sweep import worker_rows
from rdlr.sweep.plan import build_plan
from rdlr.sweep.plan_text import normalization_counts
from rdlr.sweep.recovery import job_rows
from rdlr.sweep.trial import speaker_counts
from rdlr.sweep.worker_rows import SplitKey, split_rows

ROW = {
    "spec_id": "demo",
    "features": "is10",
    "protocol": "out_of_corpus",
    "method": "ce",
    "held_out": "CRE-demo",
    "config_id": "abc",
    "seed": 1,
    "val_ua": 0.5,
    "test_ua": 0.4,
}


def demo_spec(*normalization: str) -> SweepSpec:
    raw = load_spec("demo").to_dict()
    if normalization:
        raw["normalization"] = list(normalization)
    return SweepSpec.from_dict(raw)


def test_each_normalisation_runs_like_a_feature_set_and_the_plan_counts_it():
    plain, three = demo_spec(), demo_spec("train", "corpus", "speaker")
    assert len(three.jobs()) == 3 * len(plain.jobs()) and three.num_trials() == 3 * plain.num_trials()
    assert [job.name for job in three.jobs() if job.normalization == "train"] == [job.name for job in plain.jobs()]
    names = {job.name for job in three.jobs()}
    assert len(names) == len(three.jobs()) and "is10__out_of_corpus__ce__CRE-demo__norm-corpus" in names
    meta = pd.DataFrame(
        {
            "corpus": np.repeat(["CRE-demo", "IEM-demo", "IMP-demo", "POD-demo", "LIB-demo"], 40),
            "speaker": np.tile(np.repeat([f"s{i}" for i in range(8)], 5), 5),
            "label": np.r_[np.tile(["neutral", "happy", "sad", "angry"], 40), [""] * 40],
            "session": "",
            "partition": "",
        }
    )
    from rdlr.sweep.cost import load_figures

    plan = build_plan(three, meta, "test", load_figures())
    jobs = len(plain.jobs())
    trials = plain.num_trials()
    assert normalization_counts(plan) == (
        f"train ({jobs} jobs, {trials} trials), corpus ({jobs} jobs, {trials} trials), "
        f"speaker ({jobs} jobs, {trials} trials)"
    )


def test_the_spec_key_is_validated_and_left_out_of_saved_specs_at_its_default():
    assert "normalization" not in demo_spec().to_dict()  # a sweep saved before the key existed still matches
    assert demo_spec("corpus").to_dict()["normalization"] == ["corpus"]
    assert SweepSpec.from_dict(demo_spec("speaker", "train").to_dict()) == demo_spec("speaker", "train")
    with pytest.raises(SpecError, match=r"normalization\[1\]: unknown value 'global'; valid: train, corpus, speaker"):
        demo_spec("train", "global")
    with pytest.raises(SpecError, match="normalization: 'corpus' is listed twice"):
        demo_spec("corpus", "corpus")
    with pytest.raises(SpecError, match="normalization: list at least one"):
        SweepSpec.from_dict({**demo_spec().to_dict(), "normalization": []})


def test_trial_keys_of_train_rows_are_those_of_rows_written_before_the_column():
    before = trial_key(ROW)  # a row of a sweep written before normalisations existed
    assert trial_key({**ROW, "normalization": "train"}) == before
    assert trial_key({**ROW, "normalization": ""}) == before
    values = ["demo", "is10", "out_of_corpus", "ce", "CRE-demo", "abc", 1]  # the key as rdlr computed it before
    assert before == hashlib.sha1(json.dumps(values).encode()).hexdigest()[:20]
    others = {trial_key({**ROW, "normalization": name}) for name in ("corpus", "speaker")}
    assert len(others | {before}) == 3


def test_old_tables_read_as_train_and_unknown_normalisations_are_refused():
    old = pd.DataFrame([ROW, {**ROW, "seed": 2}])
    assert validate_results(old)["normalization"].tolist() == ["train", "train"]
    mixed = results_frame([ROW, {**ROW, "normalization": "corpus"}])
    assert list(mixed.columns[:4]) == ["spec_id", "protocol", "features", "normalization"]
    assert sorted(validate_results(mixed)["normalization"]) == ["corpus", "train"]  # not duplicates of one trial
    with pytest.raises(ValueError, match="unknown normalization\\(s\\) 'global'; valid: train, corpus, speaker"):
        validate_results(pd.DataFrame([{**ROW, "normalization": "global"}]))


def test_a_job_finds_its_own_rows_and_a_train_job_the_rows_without_the_column():
    spec = demo_spec("train", "corpus")
    train_job = next(j for j in spec.jobs() if j.normalization == "train" and j.method == "ce")
    corpus_job = next(j for j in spec.jobs() if j.normalization == "corpus" and j.method == "ce")
    held = {**ROW, "protocol": train_job.protocol, "held_out": train_job.held_out}
    rows = [held, {**held, "normalization": "corpus", "seed": 2}]
    assert job_rows(rows, train_job) == [held] and job_rows(rows, corpus_job) == [rows[1]]


def test_a_worker_prepares_each_normalisation_once_and_counts_small_speakers():
    worker_rows.clear()
    rng = np.random.default_rng(0)
    corpus = np.repeat(["A", "B", "C"], 60)
    speaker = np.array([f"s{i // 30}" if i % 60 < 55 else f"t{i}" for i in range(180)], dtype=object)
    meta = pd.DataFrame(
        {"corpus": corpus, "speaker": speaker, "label": np.tile(["neutral", "happy", "sad", "angry"], 45)}
    )
    x = rng.normal(size=(180, 4)).astype(np.float32)
    keys = [SplitKey("t", "out_of_corpus", "C", 0, "all", n) for n in ("train", "speaker")]
    train, speaker_rows = (split_rows(x, meta, key) for key in keys)
    assert split_rows(x, meta, keys[1]) is speaker_rows and train is not speaker_rows
    assert speaker_counts(train.data) == {}
    # 6 speakers of 25-30 utterances have their own statistics; 15 one-utterance speakers fall back
    assert speaker_counts(speaker_rows.data) == {
        "norm_speakers": 6,
        "norm_fallback_speakers": 15,
        "norm_fallback_rows": 15,
    }
    worker_rows.clear()
