"""Reading fairseq's torch-pickled checkpoints (``wav2vec_large.pt``) without fairseq and without running code.

A fairseq checkpoint pickles more than weights: ``args`` (an ``argparse.Namespace``), the optimizer history and,
in ``extra_state``, numpy scalars and training meters whose classes live in ``fairseq.meters``. The file is read
with torch's restricted unpickler (``torch.load(weights_only=True)``), which looks a global up by its exact dotted
path in an allow-list and never imports or resolves attributes: torch's own list (tensors, storages, dtypes,
``OrderedDict``) plus, during one load only, the exact names of :data:`CHECKPOINT_GLOBALS` — ``Namespace``, numpy's
scalar constructor with the dtypes of numeric scalars, and the fairseq meter classes, which resolve to inert
:class:`Opaque` stand-ins (fairseq is never imported). Any other global fails the load with an error naming the
file and the global.
"""

from __future__ import annotations

import argparse
import pickle
import pickletools
import re
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import torch


class Opaque:
    """Stand-in for an object of a fairseq class (``fairseq.meters.AverageMeter``): keeps its state, runs nothing."""

    qualified_name = "?"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.args = args

    def __setstate__(self, state: Any) -> None:
        self.state = state

    def __repr__(self) -> str:
        return f"<opaque {self.qualified_name}>"


def _stand_in(qualified_name: str) -> tuple[type[Opaque], str]:
    name = qualified_name.rsplit(".", 1)[1]
    return type(name, (Opaque,), {"qualified_name": qualified_name}), qualified_name


_FAIRSEQ_CLASSES = ("fairseq.meters.AverageMeter", "fairseq.meters.TimeMeter", "fairseq.meters.StopwatchMeter")
_NUMPY_SCALAR = np.float64(0).__reduce__()[0]  # numpy's ``multiarray.scalar``, whatever module numpy keeps it in
_NUMPY_SCALAR_TYPES = (
    "bool",
    "int8",
    "int16",
    "int32",
    "int64",
    "uint8",
    "uint16",
    "uint32",
    "uint64",
    "float16",
    "float32",
    "float64",
)

#: Globals a fairseq checkpoint may name beyond torch's defaults, each under its one exact pickled path.
CHECKPOINT_GLOBALS: list[Any] = [
    argparse.Namespace,
    (np.dtype, "numpy.dtype"),
    (_NUMPY_SCALAR, "numpy.core.multiarray.scalar"),  # numpy 1.x writes this path
    (_NUMPY_SCALAR, "numpy._core.multiarray.scalar"),  # numpy 2.x writes this one
    *(type(np.dtype(name)) for name in _NUMPY_SCALAR_TYPES),  # ``BUILD`` of a dtype acts on its class
    *(_stand_in(name) for name in _FAIRSEQ_CLASSES),
]

_REFUSED_GLOBAL = re.compile(r"\bGLOBAL (\S+) (?:was not|whose module)")
_REFUSED_OPCODE = re.compile(r"Unsupported operand (\d+)")
_OPCODE_NAMES = {opcode.code.encode("latin-1")[0]: opcode.name for opcode in pickletools.opcodes}
_TORCH_ADVICE = ("Weights only load failed", "(1)", "(2)", "Please file an issue", "Check the documentation")


FAIRSEQ_ADVICE = "Use the unmodified fairseq wav2vec 1.0 checkpoint (wav2vec_large.pt from the fairseq wav2vec README)."


def refusal_reason(error: BaseException) -> str:
    """What the restricted unpickler refused, in one line, without torch's advice to read the file unrestricted."""
    text = str(error)
    if found := _REFUSED_GLOBAL.search(text):
        return (
            f"it names the global {found.group(1)}, which the restricted (weights-only) reader refuses; reading "
            "it unrestricted could run code"
        )
    if found := _REFUSED_OPCODE.search(text):
        name = _OPCODE_NAMES.get(int(found.group(1)), "unknown")
        return f"it uses the pickle opcode {name} ({found.group(1)}), which the restricted reader does not accept"
    lines = [line.strip() for line in text.replace("WeightsUnpickler error:", "\n").splitlines()]
    kept = [line for line in lines if line and not line.startswith(_TORCH_ADVICE)]
    return kept[0].rstrip(".") if kept else type(error).__name__


def unpickling_refusal(error: BaseException) -> BaseException | None:
    """The :class:`pickle.UnpicklingError` behind ``error`` (itself or a cause), as a library that read a torch
    pickle with ``weights_only=True`` (transformers' ``from_pretrained``) raises or wraps it; else ``None``."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, pickle.UnpicklingError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def load_checkpoint(path: str | Path, advice: str = FAIRSEQ_ADVICE, mmap: bool = False) -> Any:
    """The object torch-saved at ``path`` (legacy or zip format), on the CPU, read with ``weights_only=True``.

    A file the restricted reader refuses raises a ``ValueError`` of one line naming ``path`` and the refused
    global (or opcode), followed by ``advice``. ``mmap``: map the tensors' storage instead of reading it (files
    in torch's zip format; a legacy file is read whole), for a caller that only looks at small entries."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path} (give the local path of the downloaded file)")
    try:
        with torch.serialization.safe_globals(CHECKPOINT_GLOBALS):
            if mmap and zipfile.is_zipfile(path):
                return torch.load(str(path), map_location="cpu", weights_only=True, mmap=True)
            return torch.load(str(path), map_location="cpu", weights_only=True)
    except OSError:
        raise
    except Exception as error:  # noqa: BLE001 - a hostile file can make the unpickler raise anything
        raise ValueError(f"cannot read checkpoint {path}: {refusal_reason(error)}. {advice}") from None
