"""``rdlr predict`` and ``load_model().predict``: files, folders and manifests; other sample rates and channel
counts; unreadable inputs as ``error`` rows; the CLI's CSV equal to the Python table to the last digit."""

from __future__ import annotations

import csv
import io
from math import gcd
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import rdlr
from rdlr.cli import main
from rdlr.labels import CLASSES

PROBS = [f"prob_{name}" for name in CLASSES]
COLUMNS = ["path", "utt_id", "label", *PROBS, "error"]
SCORED = ["path", "utt_id", "label", "true_label", *PROBS, "error"]  # a labeled manifest among the inputs


def read_predictions(path: Path) -> pd.DataFrame:
    """A predictions CSV as written, floats parsed exactly (``round_trip``) and empty cells as ""."""
    frame = pd.read_csv(
        path,
        dtype=dict.fromkeys(("path", "utt_id", "label", "true_label", "error"), str),
        keep_default_na=False,
        na_values={c: [""] for c in PROBS},
        float_precision="round_trip",
    )
    return frame


@pytest.fixture(scope="module")
def inputs(demo_model, tmp_path_factory) -> dict[str, Path]:
    """A folder of demo audio, a manifest of other demo utterances, a missing file, a corrupt and an empty WAV."""
    root = tmp_path_factory.mktemp("inputs")
    manifest = pd.read_csv(demo_model.manifest)
    subset = manifest[manifest["corpus"] == "POD-demo"].head(5)
    subset.to_csv(root / "pod.csv", index=False)
    (root / "corrupt.wav").write_bytes(b"this is not audio at all" * 40)
    sf.write(str(root / "empty.wav"), np.zeros(0, dtype=np.float32), 16_000)
    folder = Path(manifest.loc[manifest["speaker"] == "CRE-demo_s01", "path"].iloc[0]).parent
    return {
        "folder": folder,
        "manifest": root / "pod.csv",
        "missing": root / "missing.wav",
        "corrupt": root / "corrupt.wav",
        "empty": root / "empty.wav",
    }


def test_the_cli_writes_the_python_table_with_probabilities_to_6_decimals(demo_model, inputs, tmp_path):
    args = [str(p) for p in inputs.values()]
    assert main(["predict", str(demo_model.folder), *args, "--out", str(tmp_path / "p.csv"), "--no-progress"]) == 0
    from_cli = read_predictions(tmp_path / "p.csv")
    model = rdlr.load_model(demo_model.folder)
    from_python = model.predict(args, progress=False, score=True)  # what the CLI does: pod.csv has labels
    assert list(from_python.columns) == SCORED
    pd.testing.assert_frame_equal(from_cli, from_python.round(6), check_exact=True)
    unscored = model.predict(args, progress=False)
    assert list(unscored.columns) == COLUMNS and "scores" not in unscored.attrs
    pod = pd.read_csv(inputs["manifest"], keep_default_na=False)
    assert from_python["true_label"].tolist() == [""] * 8 + pod["label"].tolist() + [""] * 3  # folder, pod.csv, files
    pd.testing.assert_frame_equal(unscored, from_python.drop(columns="true_label"))
    written = pd.read_csv(tmp_path / "p.csv", dtype=str, keep_default_na=False)
    decimals = written[PROBS].stack().str.partition(".")[2].str.len()
    assert decimals.max() == 6

    good = from_python[from_python["error"] == ""]
    assert len(good) == 8 + 5 and set(good["label"]) <= set(CLASSES)
    np.testing.assert_allclose(good[PROBS].sum(axis=1), 1.0, rtol=1e-6)
    assert (good["label"] == good[PROBS].idxmax(axis=1).str.removeprefix("prob_")).all()
    stems = [Path(path).stem for path in good["path"].iloc[:8]]  # files of a folder: utt_id from the file name
    assert good["utt_id"].tolist() == stems + [f"POD-demo_s01_u{i:03d}" for i in range(1, 6)]
    bad = from_python[from_python["error"] != ""].set_index("path")
    assert bad.loc[str(inputs["missing"]), "error"].startswith("missing file")
    assert bad.loc[str(inputs["missing"]), "utt_id"] == "missing"  # a file given directly
    assert bad.loc[str(inputs["corrupt"]), "error"].startswith("unreadable audio")
    assert bad.loc[str(inputs["empty"]), "error"].startswith("empty audio")
    assert (bad["label"] == "").all() and bad[PROBS].isna().all().all()


def _resampled(samples: np.ndarray, rate: int) -> np.ndarray:
    divisor = gcd(rate, 16_000)
    return resample_poly(samples, rate // divisor, 16_000 // divisor).astype(np.float32)


def test_other_sample_rates_and_channel_counts_give_the_same_predictions(demo_model, tmp_path):
    manifest = pd.read_csv(demo_model.manifest)
    originals = manifest[manifest["corpus"] == "IEM-demo"]["path"].head(4).tolist()
    variants: dict[str, list[Path]] = {"44.1 kHz stereo wav": [], "22.05 kHz flac": [], "48 kHz 3 channels": []}
    for i, path in enumerate(originals):
        samples, rate = sf.read(path, dtype="float32")
        assert rate == 16_000 and samples.ndim == 1
        stereo = _resampled(samples, 44_100)
        sf.write(str(tmp_path / f"s{i}.wav"), np.stack([stereo, stereo], axis=1), 44_100, subtype="FLOAT")
        sf.write(str(tmp_path / f"f{i}.flac"), _resampled(samples, 22_050), 22_050, subtype="PCM_24")
        tri = _resampled(samples, 48_000)
        sf.write(str(tmp_path / f"t{i}.wav"), np.stack([tri, tri, tri], axis=1), 48_000, subtype="FLOAT")
        for name, suffix in zip(variants, ("s", "f", "t")):
            variants[name].append(tmp_path / (f"{suffix}{i}.flac" if suffix == "f" else f"{suffix}{i}.wav"))
    model = rdlr.load_model(demo_model.folder)
    reference = model.predict(originals, progress=False)
    for name, paths in variants.items():
        predicted = model.predict(paths, progress=False)
        assert (predicted["error"] == "").all(), name
        np.testing.assert_allclose(predicted[PROBS].to_numpy(), reference[PROBS].to_numpy(), atol=0.02, err_msg=name)
        # a label can flip only where the reference's two best classes are closer than that tolerance (this
        # briefly trained test model is often unsure)
        top2 = np.sort(reference[PROBS].to_numpy(), axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 2 * 0.02
        assert (predicted["label"][clear] == reference["label"][clear]).all(), name


def test_a_manifest_dataframe_and_a_single_path(demo_model):
    model = rdlr.load_model(demo_model.folder)
    manifest = pd.read_csv(demo_model.manifest).head(3)
    from_frame = model.predict(manifest, progress=False)
    assert from_frame["utt_id"].tolist() == manifest["utt_id"].tolist()
    single = model.predict(manifest["path"].iloc[0], progress=False)
    # the same features in a batch of 1 or of 3: equal up to float32 rounding (BLAS picks kernels by batch size)
    np.testing.assert_allclose(
        single[PROBS].iloc[0].to_numpy(float), from_frame[PROBS].iloc[0].to_numpy(float), rtol=1e-6
    )
    assert single["label"].iloc[0] == from_frame["label"].iloc[0]


def test_nothing_readable_exits_nonzero_and_bad_models_exit_2(demo_model, inputs, tmp_path, capsys):
    code = main(["predict", str(demo_model.folder), str(inputs["corrupt"]), str(tmp_path), "--no-progress"])
    assert code == 1
    captured = capsys.readouterr()
    assert next(csv.reader(captured.out.splitlines())) == COLUMNS  # CSV on stdout without --out
    assert "predicted 0 of 2 inputs" in captured.err and "no audio files in folder" in captured.out
    assert main(["predict", str(tmp_path), str(inputs["corrupt"])]) == 2
    assert "is not an rdlr model folder" in capsys.readouterr().err


def test_formula_like_cells_are_prefixed_and_the_csv_keeps_its_columns(demo_model, inputs, tmp_path):
    manifest = pd.read_csv(inputs["manifest"]).head(4)
    manifest["utt_id"] = ["=cmd|' /C calc'!A0", "+1", "-1", "@SUM(A1)"]
    manifest.to_csv(tmp_path / "hostile.csv", index=False)
    out = tmp_path / "p.csv"
    assert (
        main(["predict", str(demo_model.folder), str(tmp_path / "hostile.csv"), "--out", str(out), "--no-progress"])
        == 0
    )
    written = read_predictions(out)
    assert list(written.columns) == SCORED
    assert written["utt_id"].tolist() == ["'=cmd|' /C calc'!A0", "'+1", "'-1", "'@SUM(A1)"]


def test_hostile_class_names_in_a_header_stay_one_column_each():
    from rdlr.io.safe_csv import safe_frame

    frame = pd.DataFrame({"=cmd|' /C calc'!A0": ["\tx"], "a\nb,c": ["\rz"], "path": ["ok"]})
    text = safe_frame(frame).to_csv(index=False, quoting=csv.QUOTE_NONNUMERIC)
    back = pd.read_csv(io.StringIO(text), dtype=str)
    assert list(back.columns) == ["'=cmd|' /C calc'!A0", "a\nb,c", "path"]
    assert back.iloc[0].tolist() == ["'\tx", "'\rz", "ok"]


def test_an_unwritable_out_fails_in_one_line_before_any_audio_is_read(
    demo_model, inputs, tmp_path, capsys, monkeypatch
):
    from rdlr.models.predictor import TrainedModel

    def no_prediction(*args, **kwargs):
        raise AssertionError("predicted before checking --out")

    monkeypatch.setattr(TrainedModel, "predict", no_prediction)
    (tmp_path / "a-file").write_text("not a folder")
    out = tmp_path / "a-file" / "p.csv"
    assert main(["predict", str(demo_model.folder), str(inputs["manifest"]), "--out", str(out), "--no-progress"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and str(out) in error and "choose another --out" in error
