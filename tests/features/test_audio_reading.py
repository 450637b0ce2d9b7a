"""``load_audio`` names a directory, a 0-byte file and a truncated WAV as such instead of reading what is there."""

from __future__ import annotations

import numpy as np
import pytest
import soundfile as sf

from rdlr.features.audio import load_audio
from rdlr.features.base import UtteranceError
from rdlr.features.store import reason_kind

SR = 16_000


@pytest.fixture
def whole(tmp_path):
    path = tmp_path / "whole.wav"
    sf.write(path, (0.3 * np.sin(np.arange(SR) / 5.0)).astype(np.float32), SR, subtype="PCM_16")
    return path


def refusal(path) -> str:
    with pytest.raises(UtteranceError) as error:
        load_audio(path)
    return str(error.value)


def test_directory_is_reported_as_a_directory(tmp_path):
    folder = tmp_path / "utt.wav"
    folder.mkdir()
    reason = refusal(folder)
    assert reason == f"directory, not an audio file: {folder}" and reason_kind(reason) == "directory, not an audio file"


def test_zero_byte_file_is_empty(tmp_path):
    zero = tmp_path / "zero.wav"
    zero.write_bytes(b"")
    reason = refusal(zero)
    assert reason == f"empty audio (0 bytes): {zero}" and reason_kind(reason) == "empty audio"


def test_truncated_wav_is_refused_not_read_in_part(tmp_path, whole):
    assert load_audio(whole).shape == (SR,)
    cut = tmp_path / "cut.wav"
    cut.write_bytes(whole.read_bytes()[: 44 + 2 * 6000])  # 6000 of 16000 frames
    assert sf.read(str(cut))[0].shape == (6000,)  # soundfile alone would hand over the part that exists
    reason = refusal(cut)
    assert reason == f"truncated audio (header claims 16000 frames, file holds 6000): {cut}"
    assert reason_kind(reason) == "truncated audio"


def test_missing_file_keeps_its_reason(tmp_path):
    assert refusal(tmp_path / "gone.wav") == f"missing file: {tmp_path / 'gone.wav'}"


def test_float_samples_beyond_one_are_peak_normalised_with_one_warning(tmp_path, monkeypatch):
    """int16-scale floats would wrap around in openSMILE's int16 conversion (another label, no error)."""
    from rdlr.features import audio
    from rdlr.features.is10 import IS10Extractor

    monkeypatch.setattr(audio, "_warned_loud", False)
    wave = (0.5 * np.sin(np.arange(SR) / 5.0) + 0.01 * np.random.default_rng(0).standard_normal(SR)).astype(np.float32)
    unit, loud, louder = tmp_path / "unit.wav", tmp_path / "loud.wav", tmp_path / "louder.wav"
    sf.write(unit, wave / np.abs(wave).max(), SR, subtype="FLOAT")
    sf.write(loud, wave * 32768, SR, subtype="FLOAT")
    sf.write(louder, wave * 3, SR, subtype="FLOAT")
    first = r"loud\.wav: float samples reach 1747\d\.\d, beyond ±1; peak-normalised"
    with pytest.warns(audio.LoudFloatWarning, match=first) as seen:
        read = load_audio(loud)
        load_audio(louder)
    assert len(seen) == 1  # once per process, naming the first file
    np.testing.assert_allclose(read, load_audio(unit), rtol=0, atol=1e-6)
    extractor = IS10Extractor()
    features = [extractor.extract([{"path": str(path)}])[0].vector for path in (loud, unit)]
    np.testing.assert_allclose(features[0], features[1], rtol=1e-4, atol=1e-4)


def test_resampling_overshoot_is_clipped(tmp_path):
    square = np.sign(np.sin(np.arange(44_100) / 20.0)).astype(np.float32)  # full scale: resampling rings past ±1
    sf.write(tmp_path / "square.wav", square, 44_100, subtype="FLOAT")
    assert np.abs(load_audio(tmp_path / "square.wav")).max() <= 1.0


def test_recordings_longer_than_the_maximum_are_refused_before_reading(tmp_path, monkeypatch):
    from rdlr.features import audio

    monkeypatch.setattr(audio, "MAX_SECONDS", 1.0)
    path = tmp_path / "long.wav"
    sf.write(path, (0.3 * np.sin(np.arange(3 * SR // 2) / 5.0)).astype(np.float32), SR, subtype="PCM_16")
    monkeypatch.setattr(audio.sf, "read", lambda *args, **kwargs: pytest.fail("the samples were read"))
    reason = refusal(path)
    assert reason == f"too long (1.5 s > 1 s; split the recording into utterances): {path}"
    assert reason_kind(reason) == "too long"
