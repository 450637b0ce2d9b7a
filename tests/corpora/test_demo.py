"""Tests of the synthetic demo corpora: manifest, determinism, caching, and that emotion is learnable."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
import torch
from numpy.lib.stride_tricks import sliding_window_view

from rdlr.corpora import read_manifest
from rdlr.corpora.demo import (
    CONFIG_NAME,
    CORPUS_STYLES,
    MANIFEST_NAME,
    UNLABELED_CORPUS,
    DemoConfig,
    generate_demo_corpora,
)
from rdlr.labels import CLASSES, VOTE_COLUMNS

SMALL = DemoConfig(
    speakers_per_corpus=3,
    utterances_per_speaker=10,
    unlabeled_speakers=2,
    unlabeled_utterances_per_speaker=3,
    sentences_per_corpus=4,
    unreliable_share=0.2,
)
LABELED = [style.name for style in CORPUS_STYLES]


def load_demo(out: Path) -> pd.DataFrame:
    """The demo manifest under ``out`` as rdlr reads it, with the ground-truth column ``reliable`` as bool."""
    frame = read_manifest(out / MANIFEST_NAME)
    return frame.assign(reliable=frame["reliable"].map({"True": True, "False": False}).astype(bool))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, pd.DataFrame]:
    out = tmp_path_factory.mktemp("demo_small")
    generate_demo_corpora(out, seed=3, config=SMALL)
    return out, load_demo(out)


def test_manifest_columns_and_paths(small: tuple[Path, pd.DataFrame]) -> None:
    out, frame = small
    expected = ["utt_id", "path", "corpus", "speaker", "label", "gender", "transcript", *VOTE_COLUMNS, "reliable"]
    assert list(pd.read_csv(out / MANIFEST_NAME, nrows=0).columns) == expected
    assert frame["utt_id"].is_unique
    assert set(frame["corpus"]) == {*LABELED, UNLABELED_CORPUS}
    assert set(frame["gender"]) == {"F", "M"}
    for row in frame.itertuples():
        path = Path(row.path)
        assert path.is_absolute() and path == out.resolve() / row.corpus / row.speaker / f"{row.utt_id}.wav"
        assert row.speaker.startswith(f"{row.corpus}_s")
        assert all(len(syllable) == 2 for syllable in row.transcript.split(" "))
    assert len(frame) == 4 * 3 * 10 + 2 * 3


def test_speakers_disjoint_and_counts(small: tuple[Path, pd.DataFrame]) -> None:
    _, frame = small
    assert frame.groupby("speaker")["corpus"].nunique().max() == 1
    labeled = frame[frame["corpus"] != UNLABELED_CORPUS]
    assert labeled.groupby("corpus")["speaker"].nunique().eq(3).all()
    assert labeled.groupby("speaker").size().eq(10).all()


def test_label_distribution_follows_class_priors(small: tuple[Path, pd.DataFrame]) -> None:
    _, frame = small
    assert (frame.loc[frame["corpus"] == UNLABELED_CORPUS, "label"] == "").all()
    for style in CORPUS_STYLES:
        labels = frame.loc[frame["corpus"] == style.name, "label"]
        counts = labels.value_counts().reindex(CLASSES, fill_value=0).to_numpy()
        assert np.abs(counts - np.asarray(style.class_prior) * len(labels)).max() < 1.0


def test_unreliable_share_and_votes(small: tuple[Path, pd.DataFrame]) -> None:
    _, frame = small
    labeled = frame[frame["corpus"] != UNLABELED_CORPUS]
    assert labeled.groupby("corpus")["reliable"].apply(lambda r: (~r).sum()).eq(round(0.2 * 30)).all()
    assert labeled.loc[~labeled["reliable"], "label"].ne("neutral").all()
    assert frame.loc[frame["corpus"] == UNLABELED_CORPUS, "reliable"].all()
    with_votes = frame["corpus"].isin(SMALL.vote_corpora)
    assert frame.loc[~with_votes, list(VOTE_COLUMNS)].isna().all().all()
    votes = frame.loc[with_votes, list(VOTE_COLUMNS)].to_numpy()
    labels = frame.loc[with_votes, "label"].map(CLASSES.index).to_numpy()
    assert votes.sum(axis=1).min() >= 3 and votes.sum(axis=1).max() <= 6
    winner = votes[np.arange(len(votes)), labels]
    votes[np.arange(len(votes)), labels] = -1
    assert (winner > votes.max(axis=1)).all()


def test_durations_and_format(small: tuple[Path, pd.DataFrame]) -> None:
    _, frame = small
    for path in frame["path"]:
        info = sf.info(path)
        assert (info.samplerate, info.channels, info.subtype) == (16_000, 1, "PCM_16")
        assert SMALL.min_duration <= info.duration <= SMALL.max_duration
        audio, _ = sf.read(path)
        assert 0.01 < np.abs(audio).max() < 1.0


def test_deterministic_and_seed_dependent(tmp_path: Path) -> None:
    tiny = replace(SMALL, speakers_per_corpus=1, utterances_per_speaker=5, unreliable_share=0.0)
    first = load_demo(generate_demo_corpora(tmp_path / "a", seed=3, config=tiny).parent)
    again = load_demo(generate_demo_corpora(tmp_path / "b", seed=3, config=tiny).parent)
    other = load_demo(generate_demo_corpora(tmp_path / "c", seed=4, config=tiny).parent)
    columns = [c for c in first.columns if c != "path"]
    pd.testing.assert_frame_equal(first[columns], again[columns])
    for a, b, c in zip(first["path"], again["path"], other["path"]):
        assert Path(a).read_bytes() == Path(b).read_bytes() != Path(c).read_bytes()


def test_second_call_reuses_and_new_config_regenerates(tmp_path: Path) -> None:
    tiny = replace(SMALL, speakers_per_corpus=1, utterances_per_speaker=4, unreliable_share=0.0)
    manifest = generate_demo_corpora(tmp_path, seed=0, config=tiny)
    files = [manifest, tmp_path / CONFIG_NAME, *map(Path, load_demo(tmp_path)["path"])]
    stamps = [f.stat().st_mtime_ns for f in files]
    assert generate_demo_corpora(tmp_path, seed=0, config=tiny) == manifest
    assert [f.stat().st_mtime_ns for f in files] == stamps
    smaller = replace(tiny, utterances_per_speaker=2)
    generate_demo_corpora(tmp_path, seed=0, config=smaller)
    frame = load_demo(tmp_path)
    assert (
        len(frame) == 4 * 2 + 2 * 3
        and json.loads((tmp_path / CONFIG_NAME).read_text())["config"]["utterances_per_speaker"] == 2
    )
    assert sorted(str(p) for p in tmp_path.glob("*/*/*.wav")) == sorted(frame["path"])
    generate_demo_corpora(tmp_path, seed=1, config=smaller)
    assert json.loads((tmp_path / CONFIG_NAME).read_text())["seed"] == 1


def test_missing_wav_triggers_regeneration(tmp_path: Path) -> None:
    tiny = replace(SMALL, speakers_per_corpus=1, utterances_per_speaker=2, unreliable_share=0.0)
    generate_demo_corpora(tmp_path, seed=0, config=tiny)
    victim = Path(load_demo(tmp_path)["path"][0])
    victim.unlink()
    generate_demo_corpora(tmp_path, seed=0, config=tiny)
    assert victim.is_file()


def test_bad_config(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="vote_corpora"):
        DemoConfig(vote_corpora=("XYZ",))
    with pytest.raises(ValueError, match="min_duration"):
        DemoConfig(min_duration=2.0, max_duration=1.0)
    with pytest.raises(ValueError, match="unreliable_share"):
        generate_demo_corpora(tmp_path, config=replace(SMALL, unreliable_share=0.9))
    with pytest.raises(ValueError, match="seed"):
        generate_demo_corpora(tmp_path, seed=-1, config=SMALL)


def _prosody_features(path: str) -> np.ndarray:
    """A cheap stand-in for IS10: functionals of frame energy, spectral centroid and tilt, F0 and voicing.

    F0 and voicing come from the frame autocorrelation divided by the window's own (Boersma's correction).
    """
    audio, rate = sf.read(path)
    window = np.hanning(400)
    frames = sliding_window_view(audio, 400)[::160] * window
    power = np.abs(np.fft.rfft(frames, 1024)) ** 2
    freqs = np.fft.rfftfreq(1024, 1 / rate)
    energy = 10 * np.log10(power.sum(axis=1) + 1e-12)
    active = energy > energy.max() - 35
    centroid = (power * freqs).sum(axis=1) / (power.sum(axis=1) + 1e-12)
    tilt = 10 * np.log10((power[:, freqs >= 1000].sum(axis=1) + 1e-12) / (power[:, freqs < 1000].sum(axis=1) + 1e-12))
    lags = slice(32, 267)  # F0 between 60 and 500 Hz
    autocorr = (
        np.fft.irfft(power, 1024)[:, : lags.stop] / np.fft.irfft(np.abs(np.fft.rfft(window, 1024)) ** 2)[: lags.stop]
    )
    periodicity = autocorr[:, lags].max(axis=1) / (autocorr[:, 0] + 1e-12)
    voiced = active & (periodicity > 0.5)
    log_f0 = np.log(rate / (lags.start + autocorr[:, lags].argmax(axis=1)))
    parts = [
        energy[active],
        centroid[active],
        tilt[active],
        log_f0[voiced if voiced.any() else active],
        periodicity[active],
    ]
    stats = [
        f(p) for p in parts for f in (np.mean, np.std, lambda v: np.percentile(v, 10), lambda v: np.percentile(v, 90))
    ]
    return np.array([*stats, voiced.mean(), active.mean(), len(audio) / rate])


def _unweighted_accuracy(train_x: np.ndarray, train_y: np.ndarray, test_x: np.ndarray, test_y: np.ndarray) -> float:
    """Logistic regression on z-normalised features (training statistics); UA = mean per-class recall."""
    mean, std = train_x.mean(axis=0), train_x.std(axis=0) + 1e-8
    x = torch.tensor((train_x - mean) / std, dtype=torch.float32)
    y = torch.tensor(train_y)
    weight = torch.tensor(len(train_y) / (4 * np.bincount(train_y, minlength=4).clip(1)), dtype=torch.float32)
    torch.manual_seed(0)
    model = torch.nn.Linear(x.shape[1], 4)
    optimizer = torch.optim.LBFGS(model.parameters(), max_iter=100, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(model(x), y, weight=weight) + 1e-2 * model.weight.pow(2).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    predicted = model(torch.tensor((test_x - mean) / std, dtype=torch.float32)).argmax(dim=1).numpy()
    return float(np.mean([np.mean(predicted[test_y == c] == c) for c in np.unique(test_y)]))


@pytest.mark.slow
def test_emotion_is_learnable_within_and_across_corpora(tmp_path: Path) -> None:
    """Above chance (25 %) within a corpus and from three corpora to the fourth; lower across corpora.

    At this tiny size the within-corpus model sees 6x fewer utterances than the three-corpus one, so the
    "lower across corpora" check compares equal training sizes: one other corpus's speakers instead of the
    same corpus's (the default size is checked with IS10 and all three corpora, see the module docstring).
    """
    config = DemoConfig(
        speakers_per_corpus=6, utterances_per_speaker=16, unlabeled_speakers=1, unlabeled_utterances_per_speaker=1
    )
    frame = load_demo(generate_demo_corpora(tmp_path, seed=0, config=config).parent)
    frame = frame[frame["label"] != ""].reset_index(drop=True)
    x = np.stack([_prosody_features(path) for path in frame["path"]])
    y = frame["label"].map(CLASSES.index).to_numpy()
    corpus = frame["corpus"].to_numpy()
    half = frame["speaker"].str[-2:].astype(int).to_numpy() % 2 == 0  # speaker-independent halves
    within, same_size_across, three_to_one = [], [], []
    for name in LABELED:
        test = (corpus == name) & half
        within.append(_unweighted_accuracy(x[(corpus == name) & ~half], y[(corpus == name) & ~half], x[test], y[test]))
        same_size_across.append(
            np.mean(
                [
                    _unweighted_accuracy(x[(corpus == other) & ~half], y[(corpus == other) & ~half], x[test], y[test])
                    for other in LABELED
                    if other != name
                ]
            )
        )
        three_to_one.append(
            _unweighted_accuracy(x[corpus != name], y[corpus != name], x[corpus == name], y[corpus == name])
        )
    print(
        f"UA within {np.round(within, 3)}, across (same size) {np.round(same_size_across, 3)}, "
        f"three corpora -> fourth {np.round(three_to_one, 3)}"
    )
    assert np.mean(within) > 0.42
    assert np.mean(three_to_one) > 0.35
    assert np.mean(within) > np.mean(same_size_across) + 0.05
