"""Hand-written hostile pickles given as ``--w2v-checkpoint``, a Whisper ``.pt`` or an HF folder's
``pytorch_model.bin``: reading them must fail in one line naming the file and the global, and run nothing.

Each payload, unpickled by plain :mod:`pickle`, writes a marker file (checked by the first test, so the payloads
are known to be live); read through :func:`rdlr.features.safe_unpickle.load_checkpoint`, in torch's legacy and zip
formats, it must raise a ``ValueError`` naming the file and the refused global, and the marker must not exist.
"""

from __future__ import annotations

import pickle
import shlex
import struct
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch

from rdlr.features.safe_unpickle import load_checkpoint

pytestmark = pytest.mark.filterwarnings("ignore:Detected pickle protocol 4:UserWarning")

PROTO_2, PROTO_4, STOP = b"\x80\x02", b"\x80\x04", b"."
MARK, TUPLE, REDUCE, STACK_GLOBAL = b"(", b"t", b"R", b"\x93"
PUT_0, GET_0 = b"q\x00", b"h\x00"  # memo slot 0
LEGACY_MAGIC, LEGACY_PROTOCOL = 0x1950A86A20F9469CFC6C, 1001
LEGACY_SYS_INFO = {"protocol_version": 1001, "little_endian": True, "type_sizes": {"short": 2, "int": 4, "long": 4}}


def text(value: str) -> bytes:
    """The BINUNICODE opcode pushing ``value``."""
    data = value.encode()
    return b"X" + struct.pack("<I", len(data)) + data


def global_(module: str, name: str) -> bytes:
    """The GLOBAL opcode (protocols 0-3): ``module`` and ``name`` as written, resolved by the reader."""
    return b"c" + module.encode() + b"\n" + name.encode() + b"\n"


def call(function: bytes, *args: bytes) -> bytes:
    """Opcodes calling what ``function`` pushes with what ``args`` push (REDUCE)."""
    return function + MARK + b"".join(args) + TUPLE + REDUCE


def write_marker_code(marker: Path) -> str:
    return f"__import__('pathlib').Path({str(marker)!r}).write_text('ran')"


def dotted_stack_global(marker: Path) -> bytes:
    """Protocol 4 resolves dotted names: ``torch._utils._rebuild_tensor_v2.__builtins__.get('eval')(code)``."""
    get = text("torch._utils") + text("_rebuild_tensor_v2.__builtins__.get") + STACK_GLOBAL
    return PROTO_4 + call(call(get, text("eval")), text(write_marker_code(marker))) + STOP


def dotted_global(marker: Path) -> bytes:
    """The same dotted name through the GLOBAL opcode, which protocol 4 resolves the same way."""
    get = global_("torch._utils", "_rebuild_tensor_v2.__builtins__.get")
    return PROTO_4 + call(call(get, text("eval")), text(write_marker_code(marker))) + STOP


def dotted_globals_then_getattr(marker: Path) -> bytes:
    """A rebuild function's ``__globals__`` by a dotted name, then ``getattr`` on the builtins it holds.

    The payload is a tuple whose first item (memo 0) is the builtins dict, so the dotted name is read first.
    """
    get = global_("torch._utils", "_rebuild_parameter.__globals__.get")
    builtins_dict = call(get, text("__builtins__")) + PUT_0
    builtins_get = call(global_("builtins", "getattr"), GET_0, text("get"))
    ran = call(call(builtins_get, text("eval")), text(write_marker_code(marker)))
    return PROTO_4 + MARK + builtins_dict + ran + TUPLE + STOP


def os_system(marker: Path) -> bytes:
    return PROTO_2 + call(global_("os", "system"), text(f"touch {shlex.quote(str(marker))}")) + STOP


def posix_system(marker: Path) -> bytes:
    return PROTO_2 + call(global_("posix", "system"), text(f"touch {shlex.quote(str(marker))}")) + STOP


def builtins_eval(marker: Path) -> bytes:
    return PROTO_2 + call(global_("builtins", "eval"), text(write_marker_code(marker))) + STOP


def getattr_chain(marker: Path) -> bytes:
    """``getattr`` from an allowed function to ``eval``: ``_rebuild_tensor_v2.__globals__['__builtins__']['eval']``."""
    getattr_ = global_("builtins", "getattr")
    module_globals = call(getattr_, global_("torch._utils", "_rebuild_tensor_v2"), text("__globals__"))
    builtins_dict = call(call(getattr_, module_globals, text("get")), text("__builtins__"))
    eval_ = call(call(getattr_, builtins_dict, text("get")), text("eval"))
    return PROTO_2 + call(eval_, text(write_marker_code(marker))) + STOP


PAYLOADS: dict[str, tuple[Callable[[Path], bytes], str]] = {
    "dotted-stack-global": (dotted_stack_global, "opcode STACK_GLOBAL"),
    "dotted-global": (dotted_global, "global torch._utils._rebuild_tensor_v2.__builtins__.get"),
    "dotted-globals-getattr": (dotted_globals_then_getattr, "global torch._utils._rebuild_parameter.__globals__.get"),
    "os-system": (os_system, "global os.system"),
    "posix-system": (posix_system, "global posix.system"),
    "builtins-eval": (builtins_eval, "global eval"),
    "getattr-chain": (getattr_chain, "global getattr"),
}


def legacy_file(path: Path, payload: bytes, as_header: bool = False) -> Path:
    """torch's legacy format: pickled magic number, protocol, sys info, then the object (here the payload)."""
    header = [pickle.dumps(v, protocol=2) for v in (LEGACY_MAGIC, LEGACY_PROTOCOL, LEGACY_SYS_INFO)]
    path.write_bytes(payload + b"".join(header) if as_header else b"".join(header) + payload)
    return path


def zip_file(path: Path, payload: bytes) -> Path:
    """torch's zip format: a genuine ``torch.save`` archive whose ``data.pkl`` is replaced by the payload."""
    genuine = path.with_suffix(".genuine")
    torch.save({"model": {"w": torch.zeros(2)}}, genuine)
    with zipfile.ZipFile(genuine) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as target:
        for item in source.infolist():
            data = payload if item.filename.endswith("/data.pkl") else source.read(item)
            target.writestr(item.filename, data)
    genuine.unlink()
    return path


FORMATS: dict[str, Callable[[Path, bytes], Path]] = {
    "legacy": legacy_file,
    "legacy-header": lambda path, payload: legacy_file(path, payload, as_header=True),
    "zip": zip_file,
}


@pytest.mark.parametrize("case", sorted(PAYLOADS))
def test_payloads_run_code_under_plain_pickle(case, tmp_path):
    marker = tmp_path / "marker"
    build, _ = PAYLOADS[case]
    pickle.loads(build(marker))
    assert marker.exists()


@pytest.mark.parametrize("layout", sorted(FORMATS))
@pytest.mark.parametrize("case", sorted(PAYLOADS))
def test_hostile_checkpoint_is_refused_without_running_code(case, layout, tmp_path):
    marker = tmp_path / "marker"
    build, refused_name = PAYLOADS[case]
    path = FORMATS[layout](tmp_path / "checkpoint.pt", build(marker))
    with pytest.raises(ValueError) as raised:
        load_checkpoint(path)
    message = str(raised.value)
    assert not marker.exists()
    assert f"cannot read checkpoint {path}" in message
    assert refused_name in message
    assert "weights_only=False" not in message  # no advice to read the file unrestricted


def test_unknown_fairseq_class_is_refused_by_name(tmp_path):
    payload = PROTO_2 + call(global_("fairseq.tasks", "TaskRegistry"), text("x")) + STOP
    path = legacy_file(tmp_path / "task.pt", payload)
    with pytest.raises(ValueError, match=r"task\.pt: it names the global fairseq\.tasks\.TaskRegistry"):
        load_checkpoint(path)


def test_numpy_scalars_load_under_the_numpy_1_and_2_paths(tmp_path):
    """A 2019 checkpoint names numpy 1.x's ``numpy.core.multiarray.scalar``; numpy 2 writes ``numpy._core``."""
    path = tmp_path / "scalars.pt"
    torch.save({"val_loss": np.float64(2.5), "updates": np.int64(7)}, path, _use_new_zipfile_serialization=False)
    written = path.read_bytes()
    old_path = written.replace(b"numpy._core.multiarray\nscalar", b"numpy.core.multiarray\nscalar")
    assert b"numpy.core.multiarray\nscalar" in old_path
    path.write_bytes(old_path)
    loaded = load_checkpoint(path)
    assert loaded == {"val_loss": 2.5, "updates": 7} and isinstance(loaded["val_loss"], np.float64)


def test_a_hostile_whisper_checkpoint_is_one_line_naming_the_file_and_the_global(tmp_path):
    pytest.importorskip("whisper")
    from rdlr.features.text import load_whisper

    marker = tmp_path / "marker"
    path = zip_file(tmp_path / "medium.en.pt", os_system(marker))
    with pytest.raises(ValueError) as raised:
        load_whisper(path)
    message = str(raised.value)
    assert not marker.exists() and "\n" not in message
    assert f"cannot read checkpoint {path}: it names the global os.system" in message


def test_a_hostile_pickle_in_an_hf_folder_is_one_line_naming_the_file_and_the_global(tmp_path, tiny_encoder):
    from safetensors.torch import load_file

    from rdlr.features.hf_encoder import HFEncoderConfig, HFEncoderExtractor

    folder = tiny_encoder(tmp_path / "encoder", "wav2vec2", True)
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    HFEncoderExtractor(HFEncoderConfig(str(folder))).setup()  # the genuine pickled weights load
    marker = tmp_path / "marker"
    zip_file(folder / "pytorch_model.bin", os_system(marker))
    with pytest.raises(ValueError) as raised:
        HFEncoderExtractor(HFEncoderConfig(str(folder))).setup()
    message = str(raised.value)
    assert not marker.exists() and "\n" not in message
    assert f"{folder / 'pytorch_model.bin'}: it names the global os.system" in message
