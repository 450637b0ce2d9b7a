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
