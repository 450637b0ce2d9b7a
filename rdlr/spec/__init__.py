"""The sweep spec (``sweeps/*.yaml``): frozen dataclasses (:mod:`rdlr.spec.core`, sections in
:mod:`rdlr.spec.sections`), read strictly (:mod:`rdlr.spec.strict_yaml`, :mod:`rdlr.spec.schema`), checked as a
whole (:mod:`rdlr.spec.checks`), expanded into jobs (:mod:`rdlr.spec.jobs`), found by name (:mod:`rdlr.spec.files`)
and checked against the files it names (:mod:`rdlr.spec.model_paths`).

``from rdlr.spec import SweepSpec, load_spec, SpecError``."""

from rdlr.spec.core import SweepSpec, load_spec
from rdlr.spec.schema import SpecError

__all__ = ["SpecError", "SweepSpec", "load_spec"]
