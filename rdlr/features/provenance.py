"""What the feature store records beside each extractor config: the config itself, the extractor's class, the
vector encoding, when it was created and the versions of the packages that made the vectors."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timezone
from importlib import metadata
from typing import Any

from rdlr.features.base import Extractor, ExtractorConfig

RECORDED_PACKAGES = ("rdlr", "opensmile", "torch", "transformers", "openai-whisper", "ray", "pyarrow")


def package_versions(packages: Iterable[str] = RECORDED_PACKAGES) -> dict[str, str]:
    """Installed versions of ``packages`` (those not installed are left out)."""
    found = {}
    for package in packages:
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            continue
    return found


def config_info(
    extractor: Extractor, feature_set: str, requested: str, config: ExtractorConfig | None = None
) -> dict[str, Any]:
    """The JSON record of feature set ``feature_set`` (asked for as ``requested``): ``config`` (default: the
    extractor's; one layer's config for an encoder extracting several) and the extractor's class."""
    config = config or extractor.config
    return {
        "feature_set": feature_set,
        "requested_name": requested,
        "config_hash": config.config_hash(),
        "extractor": f"{type(extractor).__module__}.{type(extractor).__qualname__}",
        "config": config.to_dict(),
        "dim": getattr(extractor, "dim", None),
        "vector_encoding": "float32 little-endian bytes in the binary column 'features'",
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "versions": package_versions(),
    }
