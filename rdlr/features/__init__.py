"""Feature extraction (Ray Data) into a Parquet feature store, and loading aligned feature matrices.

``load(store, "is10+w2v", ["CRE", "IEM"])`` -> :class:`FeatureTable`; ``extract(manifest, "is10", store)``
fills the store; ``build_extractor(name, models)`` builds one extractor by feature-set name.
"""

from rdlr.features.pipeline import ExtractSummary, extract
from rdlr.features.registry import build_extractor, parse_feature_sets, register_extractor
from rdlr.features.store import FeatureStore, FeatureStoreError
from rdlr.features.table import FeatureAlignmentWarning, FeatureTable, load

__all__ = [
    "ExtractSummary",
    "FeatureAlignmentWarning",
    "FeatureStore",
    "FeatureStoreError",
    "FeatureTable",
    "build_extractor",
    "extract",
    "load",
    "parse_feature_sets",
    "register_extractor",
]
