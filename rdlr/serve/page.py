"""The page of ``rdlr serve`` (``GET /``): plain HTML, CSS and JavaScript shipped in this package, no external
asset, so it works offline. Upload a WAV or FLAC file or record from the microphone; the class probabilities are
drawn as bars. The files are read once, here; the routes that serve them take no file name."""

from __future__ import annotations

from importlib import resources

from rdlr.features.audio import SAMPLE_RATE

HTML = resources.files(__package__).joinpath("page.html").read_text(encoding="utf-8")
SCRIPT = resources.files(__package__).joinpath("page.js").read_text(encoding="utf-8")
STYLE = resources.files(__package__).joinpath("page.css").read_text(encoding="utf-8")
CONTENT_SECURITY_POLICY = "default-src 'self'; media-src 'self' blob:; img-src 'self' data:; object-src 'none'"

__all__ = ["CONTENT_SECURITY_POLICY", "HTML", "SAMPLE_RATE", "SCRIPT", "STYLE"]
