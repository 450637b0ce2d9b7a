"""Audio path checks: a directory, a 0-byte file, a WAV header without samples and a truncated WAV are each
named as such, by the check itself, by the corpus loaders (dropped) and by ``rdlr prepare csv`` (an error)."""

from __future__ import annotations

import argparse
import struct
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from rdlr.commands.prepare import configure_parser, run
from rdlr.corpora import load_corpus
from rdlr.corpora.audio_files import DIRECTORY, EMPTY, MISSING, TRUNCATED, FileProblem, audio_file_problem

SR = 16_000


def wav(path: Path, frames: int = 1600, channels: int = 1, subtype: str = "PCM_16") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    samples = 0.1 * np.sin(np.arange(frames * channels) / 7.0).reshape(frames, channels)
    sf.write(path, samples.astype(np.float32), SR, subtype=subtype)
    return path


def truncate(path: Path, keep_bytes: int) -> Path:
    path.write_bytes(path.read_bytes()[:keep_bytes])
    return path


def folder(path: Path) -> Path:
    path.mkdir()
    return path


def zero_bytes(path: Path) -> Path:
    path.write_bytes(b"")
    return path


def test_soundfile_reads_a_truncated_wav_without_complaint(tmp_path):
    """Why the header is walked by hand: libsndfile returns the frames present and reports no error."""
    path = truncate(wav(tmp_path / "cut.wav", frames=1600), 44 + 2 * 700)
    assert sf.info(str(path)).frames == 700 and sf.read(str(path))[0].shape == (700,)


@pytest.mark.parametrize(
    ("make", "expected"),
    [
        (lambda d: d / "nope.wav", FileProblem(MISSING)),
        (lambda d: folder(d / "folder.wav"), FileProblem(DIRECTORY)),
        (lambda d: zero_bytes(d / "zero.wav"), FileProblem(EMPTY, "0 bytes")),
        (lambda d: wav(d / "header.wav", frames=0), FileProblem(EMPTY, "a WAV header without samples")),
        (
            lambda d: truncate(wav(d / "cut.wav"), 44 + 2 * 700),
            FileProblem(TRUNCATED, "header claims 1600 frames, file holds 700"),
        ),
    ],
    ids=["missing", "directory", "zero-bytes", "header-only", "truncated"],
)
def test_each_problem_is_named(tmp_path, make, expected):
    assert audio_file_problem(make(tmp_path)) == expected


def test_truncation_counts_whole_frames_of_the_format(tmp_path):
    path = wav(tmp_path / "stereo.wav", channels=2, subtype="FLOAT")  # 8-byte frames, a longer header
    samples_at = path.read_bytes().index(b"data") + 8
    truncate(path, samples_at + 8 * 300 + 5)
    assert audio_file_problem(path) == FileProblem(TRUNCATED, "header claims 1600 frames, file holds 300")


def test_usable_files_pass(tmp_path):
    assert audio_file_problem(wav(tmp_path / "fine.wav")) is None
    assert audio_file_problem(wav(tmp_path / "fine.flac")) is None
    trailing = wav(tmp_path / "trailing.wav")  # a chunk after the samples is not a truncation
    trailing.write_bytes(trailing.read_bytes() + b"LIST" + struct.pack("<I", 4) + b"INFO")
    assert audio_file_problem(trailing) is None
    streamed = wav(tmp_path / "streamed.wav")  # size left unknown by a streaming writer
    data = bytearray(streamed.read_bytes())
    at = data.index(b"data") + 4
    data[at : at + 4] = struct.pack("<I", 0xFFFFFFFF)
    streamed.write_bytes(bytes(data))
    assert audio_file_problem(streamed) is None
    cut_header = truncate(wav(tmp_path / "cut_header.wav"), 30)  # no data chunk: left to the decoder to refuse
    assert audio_file_problem(cut_header) is None


def test_loaders_drop_directories_and_truncated_files_by_reason(tmp_path):
    for stem in ("03a01Fa", "03a01Wa"):
        wav(tmp_path / "emodb" / "wav" / f"{stem}.wav")
    truncate(tmp_path / "emodb" / "wav" / "03a01Wa.wav", 500)
    (tmp_path / "emodb" / "wav" / "08a01Nb.wav").mkdir()
    with pytest.warns(UserWarning):
        df = load_corpus("emodb", tmp_path / "emodb", verbose=False)
    assert df["utt_id"].tolist() == ["EMODB_03a01Fa"]
    assert df.attrs["dropped"] == {"audio path is a directory": 1, "truncated audio file": 1}


def test_prepare_csv_names_each_unusable_path(tmp_path, capsys):
    wav(tmp_path / "good.wav")
    (tmp_path / "dir.wav").mkdir()
    (tmp_path / "zero.wav").write_bytes(b"")
    truncate(wav(tmp_path / "cut.wav"), 44 + 2 * 100)
    source = tmp_path / "in.csv"
    source.write_text(
        "utt_id,path,corpus,speaker,label\n"
        + "".join(
            f"u{i},{name},M,s{i},happy\n" for i, name in enumerate(["good.wav", "dir.wav", "zero.wav", "cut.wav"])
        )
    )
    parser = argparse.ArgumentParser()
    configure_parser(parser)
    assert run(parser.parse_args(["csv", "--root", str(source), "--out", str(tmp_path / "out.csv")])) == 2
    err = capsys.readouterr().err
    assert f"1 audio file(s) listed in column 'path' are directories, not audio files: {tmp_path / 'dir.wav'}" in err
    assert f"are empty (0 bytes, or a WAV header without samples): {tmp_path / 'zero.wav'} (0 bytes)" in err
    assert (
        f"are truncated (the WAV header claims more sample frames than the file holds): {tmp_path / 'cut.wav'} "
        "(header claims 1600 frames, file holds 100)" in err
    )
    assert "do not exist" not in err


@pytest.mark.parametrize(
    "corpus, names",
    [
        ("emodb", ["wav/03a01Fa.WAV", "wav/03a01Wa.Wav", "wav/08a02Tc.wav"]),
        ("cremad", ["AudioWAV/1001_DFA_ANG_XX.WAV", "AudioWAV/1001_DFA_HAP_XX.wav", "AudioWAV/1001_DFA_SAD_XX.Wav"]),
        (
            "ravdess",
            [
                f"Actor_01/03-01-0{emotion}-01-01-01-01.{suffix}"
                for emotion, suffix in (("1", "WAV"), ("3", "wav"), ("4", "Wav"))
            ],
        ),
        (
            "librispeech",
            [f"train-clean-100/19/198/19-198-000{n}.{suffix}" for n, suffix in ((0, "FLAC"), (1, "flac"), (2, "Flac"))],
        ),
    ],
)
def test_upper_case_extensions_are_found(tmp_path, corpus, names):
    for name in names:
        wav(tmp_path / corpus / name, frames=800)
    with pytest.warns(UserWarning):  # the counts of a 3-file tree differ from the documented ones
        df = load_corpus(corpus, tmp_path / corpus, verbose=False)
    assert sorted(Path(path).name for path in df["path"]) == sorted(Path(name).name for name in names)
    assert df.attrs["dropped"] == {}


def test_a_directory_named_like_an_audio_file_is_counted_as_dropped(tmp_path):
    wav(tmp_path / "ravdess" / "Actor_01" / "03-01-01-01-01-01-01.wav")
    (tmp_path / "ravdess" / "Actor_01" / "03-01-03-01-01-01-01.wav").mkdir()
    with pytest.warns(UserWarning):
        df = load_corpus("ravdess", tmp_path / "ravdess", verbose=False)
    assert len(df) == 1 and df.attrs["dropped"] == {"audio path is a directory": 1}
