"""Where sweep specs are found: a YAML file given by path, or a packaged spec by name (``table2``) or as
``sweeps/table2.yaml``, read from the ``sweeps/`` folder of a source checkout or, installed, from the package data
``rdlr.sweeps``."""

from __future__ import annotations

from importlib import resources as importlib_resources
from importlib.resources.abc import Traversable
from pathlib import Path

from rdlr.spec.schema import SpecError

SWEEPS_DIR = Path(__file__).resolve().parents[2] / "sweeps"  # the packaged specs in a source checkout
SWEEPS_PACKAGE = "rdlr.sweeps"  # the same files installed as package data (pyproject maps it to sweeps/)


def packaged_spec_dir() -> Traversable | None:
    """Where the packaged specs are: ``sweeps/`` of a source checkout when it exists, else the installed package
    data :data:`SWEEPS_PACKAGE` (``pip install .``), else ``None``."""
    if SWEEPS_DIR.is_dir():
        return SWEEPS_DIR
    try:
        return importlib_resources.files(SWEEPS_PACKAGE)
    except ModuleNotFoundError:
        return None


def packaged_specs() -> list[str]:
    """Names of the packaged specs (``table2``, ``table3``, ``demo``)."""
    folder = packaged_spec_dir()
    if folder is None:
        return []
    return sorted(entry.name.removesuffix(".yaml") for entry in folder.iterdir() if entry.name.endswith(".yaml"))


def resolve_spec_path(name_or_path: str | Path) -> Path:
    """A spec file: an existing path, or a packaged spec by name (``table2``) or as ``sweeps/table2.yaml``."""
    path = Path(name_or_path).expanduser()
    if path.is_file():
        return path.resolve()
    folder = packaged_spec_dir()
    packaged = None
    if folder is not None and not path.is_absolute():
        if path.parent == Path(".") and path.suffix in ("", ".yaml", ".yml"):
            packaged = folder.joinpath(f"{path.stem}.yaml")
        elif path.parent == Path(SWEEPS_DIR.name):  # "sweeps/table2.yaml" from anywhere
            packaged = folder.joinpath(path.name)
    if packaged is not None and packaged.is_file():
        return Path(str(packaged))
    raise SpecError(
        f"sweep spec {str(name_or_path)!r} not found; give a YAML file or one of the packaged specs: "
        f"{', '.join(packaged_specs()) or f'(none found in {SWEEPS_DIR} or {SWEEPS_PACKAGE})'}"
    )
