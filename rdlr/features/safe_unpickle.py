"""Reading old torch-pickled checkpoints (fairseq's ``wav2vec_large.pt``) without fairseq and without running code.

fairseq checkpoints pickle more than weights: ``args`` (an ``argparse.Namespace``) and, in ``extra_state``,
training meters whose classes live in ``fairseq.meters``. ``torch.load(weights_only=True)`` rejects those, and a
plain unpickler needs fairseq installed and would execute whatever callables the file names. This unpickler
resolves only an allow-list of harmless globals (tensor rebuilders, ``OrderedDict``, ``Namespace``, numpy scalars);
every other global becomes an inert :class:`Opaque` placeholder that records its name and swallows its state.
"""

from __future__ import annotations

import argparse
import codecs
import collections
import pickle
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import torch

_ALLOWED: dict[tuple[str, str], Any] = {
    ("collections", "OrderedDict"): collections.OrderedDict,
    ("argparse", "Namespace"): argparse.Namespace,
    ("torch", "Size"): torch.Size,
    ("torch", "device"): torch.device,
    ("builtins", "set"): set,
    ("builtins", "frozenset"): frozenset,
    ("builtins", "slice"): slice,
    ("builtins", "complex"): complex,
    ("_codecs", "encode"): codecs.encode,  # how pickle protocol 2 (torch's legacy format) stores bytes
}
_TORCH_REBUILD_MODULES = ("torch._utils", "torch._tensor")
_NUMPY_MODULES = ("numpy.core.multiarray", "numpy._core.multiarray", "numpy")
_NUMPY_NAMES = ("scalar", "dtype", "_reconstruct", "ndarray")


class Opaque:
    """Stand-in for an object of a class that is not on the allow-list (e.g. ``fairseq.meters.AverageMeter``)."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.qualified_name}>"


def _opaque(module: str, name: str) -> type[Opaque]:
    return type(name, (Opaque,), {"qualified_name": f"{module}.{name}"})


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that never imports or calls anything outside the allow-list (see module docstring)."""

    def find_class(self, module: str, name: str) -> Any:
        if (module, name) in _ALLOWED:
            return _ALLOWED[module, name]
        if module in _TORCH_REBUILD_MODULES and name.startswith("_rebuild_"):
            return super().find_class(module, name)
        if module == "torch" and isinstance(getattr(torch, name, None), torch.dtype):
            return getattr(torch, name)
        if module == "torch" and name.endswith("Storage"):
            return super().find_class(module, name)
        if module in _NUMPY_MODULES and name in _NUMPY_NAMES:
            return super().find_class(module, name)
        return _opaque(module, name)


def _restricted_load(file: Any, **kwargs: Any) -> Any:
    return RestrictedUnpickler(file, **kwargs).load()


#: Passed to ``torch.load(pickle_module=...)``: torch needs ``Unpickler``, ``load`` and ``__name__``.
RESTRICTED_PICKLE = SimpleNamespace(
    __name__="rdlr_restricted_pickle", Unpickler=RestrictedUnpickler, load=_restricted_load
)


def load_checkpoint(path: str | Path) -> Any:
    """The object torch-saved at ``path`` (legacy or zip format), on the CPU, read with the restricted unpickler."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} (give the local path of the downloaded file)")
    try:
        return torch.load(str(path), map_location="cpu", pickle_module=RESTRICTED_PICKLE, weights_only=False)
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError) as error:
        raise ValueError(f"cannot read checkpoint {path}: {error}") from error
