"""What ``POST /predict`` accepts, read within bounds: the audio bytes of a request and its problems as 4xx errors.

The body is the WAV or FLAC file itself, or a ``multipart/form-data`` form whose field ``file`` holds it (what
``curl -F file=@clip.wav`` sends). The body is read in memory up to :data:`MAX_BYTES` (refused from its declared
``Content-Length`` before reading, else when the stream passes the bound) and never written to disk; the form is
parsed with the standard library's email parser, in memory. Decoding (:func:`rdlr.features.audio.decode_audio`)
takes WAV and FLAC only, up to :data:`rdlr.features.audio.MAX_SECONDS` of audio.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from email.parser import BytesParser
from email.policy import HTTP

import numpy as np

from rdlr.features.audio import AudioTooLong, UnsupportedAudio, decode_audio
from rdlr.features.base import UtteranceError

MAX_BYTES = 50 * 1024 * 1024
FORM_FIELD = "file"
MB = 1024 * 1024


class RequestProblem(Exception):
    """A request the service refuses: the HTTP ``status`` (4xx) and a message naming the problem."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def too_large(size: int, limit: int) -> RequestProblem:
    return RequestProblem(
        413, f"the request body is {size / MB:.1f} MB; the service takes files up to {limit / MB:g} MB"
    )


async def read_body(content_length: str | None, chunks: AsyncIterator[bytes], limit: int = MAX_BYTES) -> bytes:
    """The request body from its ``chunks``, at most ``limit`` bytes (413 beyond; 400 when empty)."""
    if content_length is not None:
        try:
            declared = int(content_length)
        except ValueError:
            raise RequestProblem(400, f"invalid Content-Length header {content_length!r:.40}") from None
        if declared > limit:
            raise too_large(declared, limit)
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > limit:
            raise too_large(len(body), limit)
    if not body:
        raise RequestProblem(
            400,
            "empty request body: send a WAV or FLAC file as the body, or as the form field "
            f"{FORM_FIELD!r} of a multipart/form-data request",
        )
    return bytes(body)


def audio_bytes(body: bytes, content_type: str) -> bytes:
    """The audio file a request carries: the body itself, or the ``file`` field of a multipart form."""
    if not content_type.lower().startswith("multipart/form-data"):
        return body
    head = f"Content-Type: {content_type}\r\n\r\n".encode("latin-1", errors="replace")
    message = BytesParser(policy=HTTP).parsebytes(head + body)
    if not message.is_multipart():
        raise RequestProblem(400, "malformed multipart/form-data body (no boundary, or no parts)")
    for part in message.iter_parts():
        if part.get_param("name", header="content-disposition") == FORM_FIELD:
            data = part.get_payload(decode=True)
            if not data:
                raise RequestProblem(400, f"the form field {FORM_FIELD!r} is empty: choose a WAV or FLAC file")
            return data
    raise RequestProblem(
        400,
        f"the multipart form has no field {FORM_FIELD!r}: send the audio file as "
        f"{FORM_FIELD!r} (curl -F {FORM_FIELD}=@clip.wav)",
    )


def decoded(data: bytes) -> np.ndarray:
    """The 16 kHz mono signal of ``data``, or the request's problem: 415 for bytes that are no WAV or FLAC file,
    413 for audio over the length limit, 422 for audio that yields no features (too short, silent, ...)."""
    try:
        return decode_audio(data, "request body")
    except UnsupportedAudio as error:
        raise RequestProblem(415, str(error)) from None
    except AudioTooLong as error:
        raise RequestProblem(413, str(error)) from None
    except UtteranceError as error:
        raise RequestProblem(422, str(error)) from None
