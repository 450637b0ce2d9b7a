"""Helpers for the corpus tests: tiny generated audio files and exact manifest comparison."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import soundfile as sf

from rdlr.corpora.manifest import conform

SAMPLE_RATE = 16_000


def _write_audio(path: Path, seconds: float = 0.05) -> Path:
    """A short noise burst at ``path`` (format from the suffix: .wav or .flac); parents are created."""
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    samples = (0.1 * rng.standard_normal(int(seconds * SAMPLE_RATE))).astype(np.float32)
    sf.write(str(path), samples, SAMPLE_RATE)
    return path


def _write_empty_wav(path: Path) -> Path:
    """A WAV file with a header and no samples (like a broken corpus file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), np.zeros(0, dtype=np.float32), SAMPLE_RATE)
    return path


@pytest.fixture
def write_audio() -> Callable[..., Path]:
    return _write_audio


@pytest.fixture
def write_empty_wav() -> Callable[[Path], Path]:
    return _write_empty_wav


def _assert_manifest(df: pd.DataFrame, rows: list[dict[str, object]]) -> None:
    """``df`` equals the manifest made of ``rows`` (unspecified standard columns empty / NaN), row for row."""
    expected = conform(pd.DataFrame(rows))
    extras = [column for column in df.columns if column not in expected.columns]
    assert not extras, f"unexpected columns {extras}"
    pd.testing.assert_frame_equal(df.reset_index(drop=True), expected.reset_index(drop=True), check_dtype=False)


@pytest.fixture
def assert_manifest() -> Callable[[pd.DataFrame, list[dict[str, object]]], None]:
    return _assert_manifest
