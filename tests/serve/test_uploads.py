"""What POST /predict accepts, without Ray: the body read within bounds, the multipart form parsed in memory, the
audio decoded as rdlr reads files, and every problem a 4xx with a message naming it."""

from __future__ import annotations

import asyncio
import io
from collections.abc import AsyncIterator
from pathlib import Path

import numpy as np
import pytest
import requests
import soundfile as sf

from rdlr.features.audio import MAX_SECONDS, decode_audio, load_audio, record_audio
from rdlr.features.is10 import IS10Extractor
from rdlr.serve.uploads import MAX_BYTES, RequestProblem, audio_bytes, decoded, read_body

SR = 16_000


def speechlike(seconds: float = 1.0, rate: int = SR, seed: int = 0) -> np.ndarray:
    """A voiced-sounding signal: a 140 Hz harmonic series under a syllable-rate envelope, plus a little noise."""
    t = np.arange(int(seconds * rate)) / rate
    voice = sum(np.sin(2 * np.pi * 140 * k * t) / k for k in range(1, 6))
    envelope = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)
    noise = 0.01 * np.random.default_rng(seed).normal(size=t.size)
    return (0.2 * voice * envelope + noise).astype(np.float32)


def encoded(samples: np.ndarray, rate: int = SR, fmt: str = "WAV", subtype: str | None = None) -> bytes:
    buffer = io.BytesIO()
    sf.write(buffer, samples, rate, format=fmt, subtype=subtype)
    return buffer.getvalue()


def body(chunks: list[bytes], content_length: str | None = None, limit: int = MAX_BYTES) -> bytes:
    async def stream() -> AsyncIterator[bytes]:
        for chunk in chunks:
            yield chunk

    return asyncio.run(read_body(content_length, stream(), limit))


def status_of(call, *args) -> tuple[int, str]:
    with pytest.raises(RequestProblem) as caught:
        call(*args)
    return caught.value.status, caught.value.message


def test_the_body_is_read_whole_within_the_limit():
    assert body([b"ab", b"cd"], "4", limit=4) == b"abcd"


@pytest.mark.parametrize(
    ("chunks", "length", "status", "message"),
    [
        ([b"x" * 10], "11", 413, "up to"),  # declared too large: refused before reading
        ([b"x" * 6, b"x" * 6], None, 413, "up to"),  # streamed past the limit without a declared length
        ([], "0", 400, "empty request body"),
        ([b""], None, 400, "empty request body"),
        ([b"x"], "lots", 400, "invalid Content-Length"),
    ],
)
def test_bodies_over_the_limit_empty_or_with_a_bad_length_are_refused(chunks, length, status, message):
    got_status, got_message = status_of(body, chunks, length, 10)
    assert got_status == status and message in got_message


def test_the_multipart_field_file_is_the_audio_and_other_fields_are_ignored():
    data = encoded(speechlike()) + b"\r\n--boundary-lookalike\r\n"  # bytes that look like multipart syntax survive
    request = requests.Request(
        "POST", "http://service/predict", files={"file": ("a.wav", data, "audio/wav")}, data={"note": "hello"}
    ).prepare()
    assert audio_bytes(request.body, request.headers["Content-Type"]) == data
    assert audio_bytes(data, "audio/wav") == data  # a plain body is the file itself


@pytest.mark.parametrize(
    ("files", "message"),
    [
        ({"other": ("a.wav", b"RIFF", "audio/wav")}, "has no field 'file'"),
        ({"file": ("a.wav", b"", "audio/wav")}, "the form field 'file' is empty"),
    ],
)
def test_a_form_without_a_file_is_refused(files, message):
    request = requests.Request("POST", "http://service/predict", files=files).prepare()
    status, got = status_of(audio_bytes, request.body, request.headers["Content-Type"])
    assert status == 400 and message in got


def test_a_multipart_type_without_parts_is_refused():
    status, message = status_of(audio_bytes, b"not a form", "multipart/form-data")
    assert status == 400 and "malformed multipart" in message


@pytest.mark.parametrize(
    ("data", "status", "message"),
    [
        (b"hello, not audio" * 10, 415, "not an audio file"),
        (encoded(speechlike(), fmt="OGG", subtype="VORBIS"), 415, "unsupported audio format OGG"),
        (encoded(np.zeros(SR, np.float32)), 422, "silent audio"),
        (encoded(speechlike(0.05)), 422, "too short"),
    ],
)
def test_audio_that_is_not_wav_or_flac_or_yields_no_features_is_refused(data, status, message):
    got_status, got_message = status_of(decoded, data)
    assert got_status == status and message in got_message and "request body" in got_message


def test_audio_over_the_length_limit_is_refused_from_its_header():
    rate = 8000
    data = encoded(speechlike(MAX_SECONDS + 1, rate), rate, "FLAC")
    status, message = status_of(decoded, data)
    assert status == 413 and f"> {MAX_SECONDS:g} s" in message


@pytest.mark.parametrize(("fmt", "rate", "channels"), [("WAV", 16_000, 1), ("FLAC", 44_100, 2), ("WAV", 8_000, 2)])
def test_decoded_bytes_are_what_load_audio_reads_from_the_same_file(tmp_path: Path, fmt, rate, channels):
    samples = np.stack([speechlike(1.3, rate, seed) for seed in range(channels)], axis=1).squeeze()
    data = encoded(samples, rate, fmt)
    path = tmp_path / f"clip.{fmt.lower()}"
    path.write_bytes(data)
    np.testing.assert_array_equal(decode_audio(data, "request body"), load_audio(path))


def test_is10_of_a_decoded_record_equals_is10_of_its_file(tmp_path: Path):
    path = tmp_path / "clip.wav"
    path.write_bytes(encoded(speechlike(1.5)))
    extractor = IS10Extractor()
    from_file, from_memory = extractor.extract(
        [
            {"utt_id": "a", "path": str(path)},
            {"utt_id": "b", "path": "request body", "audio": decode_audio(path.read_bytes(), "request body")},
        ]
    )
    np.testing.assert_array_equal(from_file.vector, from_memory.vector)
    assert record_audio({"path": str(path)}).shape == (int(1.5 * SR),)
