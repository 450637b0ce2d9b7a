"""Locating models on local disk: the extractors never download, so a wrong path must fail early and clearly."""

from __future__ import annotations

from pathlib import Path

from rdlr.safe_text import read_json


def resolved_path(path: str) -> str:
    """``path`` made absolute (user and symlinks expanded); what extractor configs store and hash."""
    return str(Path(path).expanduser().resolve())


def require_model_dir(model_dir: str | Path, what: str) -> Path:
    """``model_dir`` as a Path, after checking it is a directory with a ``config.json`` (a save_pretrained folder)."""
    path = Path(model_dir)
    if not path.is_dir():
        raise FileNotFoundError(
            f"{what} directory not found: {path} (give a local folder written by save_pretrained; "
            "nothing is downloaded)"
        )
    if not (path / "config.json").is_file():
        raise FileNotFoundError(f"{what} directory {path} has no config.json; is it a transformers model folder?")
    return path


def hidden_size(model_dir: str | Path, what: str) -> int:
    """The ``hidden_size`` in ``model_dir/config.json``, read without importing transformers."""
    config_path = require_model_dir(model_dir, what) / "config.json"
    try:
        value = read_json(config_path)["hidden_size"]
    except (KeyError, TypeError) as error:  # not valid JSON: a DocumentError (ValueError) naming the file
        raise ValueError(f"{config_path}: cannot read an integer 'hidden_size' ({error!r})") from None
    if not isinstance(value, int) or value <= 0:
        raise ValueError(f"{config_path}: hidden_size must be a positive integer, got {value!r}")
    return value
