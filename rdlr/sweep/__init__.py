"""Sweeps: a validated spec (:mod:`rdlr.spec.core`, read by :mod:`rdlr.spec.schema`) resolved for one run
(:mod:`rdlr.sweep.inputs`) and run as Ray Tune jobs (:mod:`rdlr.sweep.driver`; trials: :mod:`rdlr.sweep.trial`, rows
gathered by :mod:`rdlr.sweep.collector`), one results row per trial (:mod:`rdlr.sweep.files`). Import the
submodules; this package imports nothing heavy itself."""
