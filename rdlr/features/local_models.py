"""Locating models on local disk: the extractors never download, so a wrong path must fail early and clearly.

The checks import neither torch nor transformers, so a sweep spec's model paths are checked
(:mod:`rdlr.spec.model_paths`) in milliseconds, before Ray starts.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from rdlr.io.safe_text import read_json

Loaded = TypeVar("Loaded")


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


def require_model_file(path: str | Path, what: str) -> Path:
    """``path`` as a Path, after checking it is a file (a downloaded checkpoint such as ``wav2vec_large.pt``)."""
    path = Path(path)
    if path.is_dir():
        raise FileNotFoundError(f"{what} {path} is a directory; give the checkpoint file itself")
    if not path.is_file():
        raise FileNotFoundError(
            f"{what} not found: {path} (give the local path of the downloaded file; model names are not downloaded)"
        )
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


def from_local_folder(load: Callable[..., Loaded], model_dir: Path, what: str) -> Loaded:
    """``load(model_dir, local_files_only=True)`` (a transformers ``from_pretrained``). A torch-pickled weights file
    (``pytorch_model.bin``) that transformers' weights-only read refuses becomes one ``ValueError`` line naming the
    file and the global it names, instead of torch's multi-line ``UnpicklingError``."""
    from rdlr.features.safe_unpickle import refusal_reason, unpickling_refusal  # imports torch

    try:
        return load(str(model_dir), local_files_only=True)
    except Exception as error:  # noqa: BLE001 - transformers raises or wraps the unpickler's error
        refused = unpickling_refusal(error)
        if refused is None:
            raise
        pickles = sorted(model_dir.glob("*.bin"))
        source = pickles[0] if len(pickles) == 1 else model_dir
        raise ValueError(
            f"cannot read the {what} weights {source}: {refusal_reason(refused)}. Use the folder as "
            "save_pretrained wrote it (model.safetensors)"
        ) from None
