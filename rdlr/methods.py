"""Methods = compositions of loss and target components, and the registry of every row of Tables 2 and 3.

A method is a set of components (see :data:`COMPONENTS`). Its training objective generalises loss (11):

    L = L_cls(X, Ȳ, F; w, β) + λ_RD L_RD (7) + λ_PA L_PA (3) + λ_con L_con + λ_AE L_AE (12) + λ_PEL L_PEL (13)

where L_cls is the cross-entropy of (5) (or the focal loss), w are the corpus-wise weights of (6) when ``cww`` is
present (else 1), β the class weights, and Ȳ the targets built in this order: one-hot or annotator votes
(``soft``) → ``ls`` (9) or ``unigram`` smoothing → ``lr`` (10) with the stage-1 model; or the stage-1 model's
softmax (``self_kd``).

Decisions where the paper is silent (also on the decisions page of the docs):
- β (class weights against imbalance) is part of every table row: with w_i = 1, (5) is the CE baseline.
- The compared methods search their own hyperparameters besides M: focal's focusing parameter, Proxy-Anchor's α, δ
  and weight, the contrastive margin and weight, unigram smoothing's γ. LS keeps the paper's fixed 0.1.
- Proxy-Anchor and contrastive losses are added to the CE loss with a weight searched over λRD's set.
- The stage-1 model of a two-stage method is by default the same method without ``lr`` (for ``self_kd``: plain CE);
  ``stage1("proposed")`` takes the proposed system without LR for every LR method instead.

Search sets and budgets: ``docs/decisions.md#search-sets``, ``#baselines`` and ``#equal-budgets``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

COMPONENTS: dict[str, str] = {
    "ce": "cross-entropy with the training targets, eq. (5) with w_i = 1",
    "cw": "class weights β_i against class imbalance, eq. (5)",
    "soft": "soft labels from annotator votes [17]",
    "ls": "label smoothing, eq. (9), γ = 0.1",
    "unigram": "unigram smoothing with the training class prior [18], searched γ",
    "focal": "focal loss [24] instead of cross-entropy",
    "ae": "autoencoder reconstruction from F'(x), eq. (12)",
    "pel": "pseudo-emotion labels (all-one targets) on unlabeled speech, eq. (13)",
    "cww": "corpus-wise weights w_i, eq. (6)",
    "contrastive": "contrastive loss on the 512-dim embedding [25]",
    "proxy_anchor": "Proxy-Anchor loss on the 512-dim embedding, eq. (3)",
    "rd": "relative difficulty-aware loss, eq. (7)",
    "lr": "labeling reliability targets from a stage-1 model, eq. (10)",
    "self_kd": "self-knowledge distillation: stage-1 CE model's softmax as target",
}

ALIASES: dict[str, tuple[str, ...]] = {
    "dagger": ("ae", "ls", "pel"),
    "†": ("ae", "ls", "pel"),
    "rdlr": ("rd", "lr"),
}

# The paper's search sets (Section 3.2) and, for the compared methods, sets around their authors' settings ("the
# hyper-parameters for the compared methods were also tuned"), with the components that use each hyperparameter.
SEARCH_SPACE: Mapping[str, tuple[Any, ...]] = MappingProxyType(
    {
        "batch_size": (1024, 2048, 4096),
        "gamma": (0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8),
        "lambda_w": (1, 2, 3, 4),
        "lambda_rd": (0.1, 0.01, 0.001),
        "lambda_ae": (0.5, 0.1, 0.01, 0.001),
        "lambda_pa": (0.1, 0.01, 0.001),
        "lambda_contrastive": (0.1, 0.01, 0.001),
        "focusing": (0.5, 1.0, 2.0, 5.0),
        "pa_alpha": (16.0, 32.0, 64.0),
        "pa_delta": (0.0, 0.1, 0.2),
        "margin": (0.5, 1.0, 2.0),
        "unigram_gamma": (0.05, 0.1, 0.2, 0.3),
    }
)
HPARAM_COMPONENT: Mapping[str, str | None] = MappingProxyType(
    {
        "batch_size": None,
        "gamma": "lr",
        "lambda_w": "cww",
        "lambda_rd": "rd",
        "lambda_ae": "ae",
        "lambda_pa": "proxy_anchor",
        "lambda_contrastive": "contrastive",
        "focusing": "focal",
        "pa_alpha": "proxy_anchor",
        "pa_delta": "proxy_anchor",
        "margin": "contrastive",
        "unigram_gamma": "unigram",
    }
)
DEFAULT_HPARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "batch_size": 1024,
        "gamma": 0.5,
        "lambda_w": 2,
        "lambda_rd": 0.01,
        "lambda_ae": 0.01,
        "lambda_pa": 0.01,
        "lambda_contrastive": 0.01,
        "focusing": 2.0,
        "pa_alpha": 32.0,
        "pa_delta": 0.1,
        "margin": 1.0,
        "unigram_gamma": 0.1,
    }
)
# Fixed by the paper (Section 3.2).
FIXED_HPARAMS: Mapping[str, Any] = MappingProxyType(
    {
        "ls_gamma": 0.1,
        "lambda_pel": 1e-4,
        "unlabeled_batch_size": 32,
        "rd_alpha": 1.0,
        "rd_delta": 0.0,
    }
)
# The components that use each fixed value (a method without them never reads it).
FIXED_HPARAM_COMPONENTS: Mapping[str, tuple[str, ...]] = MappingProxyType(
    {
        "ls_gamma": ("ls",),
        "lambda_pel": ("pel",),
        "unlabeled_batch_size": ("pel", "ae"),
        "rd_alpha": ("rd",),
        "rd_delta": ("rd",),
    }
)
# Which model gives a two-stage method its targets (TrainConfig.lr_stage1): the same method without LR, or the
# proposed system without LR (Section 2.2: "the same structure with the proposed system without ... LR").
STAGE1_CHOICES: tuple[str, ...] = ("same_method", "proposed")
PROPOSED_METHOD = "rdlr_cww_dagger"


def parse_components(text: str) -> frozenset[str]:
    """Components of a composition string such as ``"rd+lr+cww+ae+ls+pel"`` or ``"rdlr+cww+dagger"``."""
    parts = [part.strip().lower() for part in text.split("+") if part.strip()]
    if not parts:
        raise ValueError(f"empty method composition {text!r}; write components joined by '+', e.g. 'rd+cww'")
    components: set[str] = set()
    for part in parts:
        if part in ALIASES:
            components.update(ALIASES[part])
        elif part in COMPONENTS:
            components.add(part)
        else:
            valid = ", ".join([*COMPONENTS, *ALIASES])
            raise ValueError(f"unknown component {part!r} in method {text!r}; valid: {valid}")
    return _validated(components, text)


def _validated(components: set[str], text: str) -> frozenset[str]:
    if "focal" not in components:
        components.add("ce")
    if {"ce", "focal"} <= components and "ce" in text.split("+"):
        raise ValueError(f"method {text!r} has both 'ce' and 'focal'; focal replaces cross-entropy, keep one")
    if {"ls", "unigram"} <= components:
        raise ValueError(f"method {text!r} has both 'ls' and 'unigram' smoothing; keep one")
    if "self_kd" in components and components & {"lr", "soft", "ls", "unigram"}:
        raise ValueError(f"method {text!r}: 'self_kd' takes its targets from the stage-1 model; drop the other targets")
    return frozenset(components)


@dataclass(frozen=True)
class Method:
    """A training recipe: an id, the paper's row label, and the set of components."""

    id: str
    label: str
    components: frozenset[str]

    @classmethod
    def from_string(cls, text: str, label: str | None = None) -> Method:
        components = parse_components(text)
        return cls(id=text.strip().lower(), label=label or text, components=components)

    def uses(self, component: str) -> bool:
        return component in self.components

    @property
    def needs_unlabeled(self) -> bool:
        return bool(self.components & {"pel", "ae"})

    @property
    def two_stage(self) -> bool:
        return bool(self.components & {"lr", "self_kd"})

    def stage1(self, choice: str = "same_method") -> Method:
        """The pre-trained model's method (Section 2.2). ``choice="same_method"``: the same method without LR;
        ``"proposed"``: the proposed system without LR for every LR method. Self-KD's is plain CE under both."""
        if not self.two_stage:
            raise ValueError(f"method {self.id!r} has no stage 1 (no 'lr' or 'self_kd' component)")
        if choice not in STAGE1_CHOICES:
            raise ValueError(f"stage-1 choice must be one of {', '.join(STAGE1_CHOICES)}, got {choice!r}")
        if "self_kd" in self.components:
            components = frozenset(self.components - {"self_kd"})
        elif choice == "proposed":
            components = frozenset(_REGISTRY[PROPOSED_METHOD].components - {"lr"})
        else:
            components = frozenset(self.components - {"lr"})
        name = "+".join(sorted(components))
        return Method(id=name, label=f"stage 1 of {self.label}", components=components)

    def needs_unlabeled_with_stage1(self, choice: str = "same_method") -> bool:
        """Whether this method or its stage-1 model (for ``choice``, see :meth:`stage1`) uses unlabeled speech."""
        return self.needs_unlabeled or (self.two_stage and self.stage1(choice).needs_unlabeled)

    def hparam_names(self) -> list[str]:
        """Searched hyperparameters this method uses (batch size always)."""
        return [name for name, comp in HPARAM_COMPONENT.items() if comp is None or comp in self.components]

    def used_hparams(self, resolved: Mapping[str, Any]) -> dict[str, Any]:
        """The values of ``resolved`` (:meth:`resolve_hparams`) this method reads: its searched hyperparameters
        (:meth:`hparam_names`) and the fixed values of its components (:data:`FIXED_HPARAM_COMPONENTS`)."""
        fixed = [name for name, comps in FIXED_HPARAM_COMPONENTS.items() if self.components & set(comps)]
        return {name: resolved[name] for name in [*self.hparam_names(), *fixed] if name in resolved}

    def search_space(self, overrides: Mapping[str, Any] | None = None) -> dict[str, list[Any]]:
        """The search set (:data:`SEARCH_SPACE`) of each hyperparameter this method uses, optionally overridden."""
        overrides = dict(overrides or {})
        space = {name: list(overrides.pop(name, SEARCH_SPACE[name])) for name in self.hparam_names()}
        unknown = set(overrides) - set(SEARCH_SPACE)
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; valid: {', '.join(SEARCH_SPACE)}")
        return space

    def resolve_hparams(self, hparams: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Defaults + fixed values + ``hparams``; unknown names raise with the valid ones."""
        hparams = dict(hparams or {})
        valid = set(SEARCH_SPACE) | set(FIXED_HPARAMS)
        unknown = set(hparams) - valid
        if unknown:
            raise ValueError(f"unknown hyperparameter(s) {sorted(unknown)}; valid: {', '.join(sorted(valid))}")
        return {**DEFAULT_HPARAMS, **FIXED_HPARAMS, **hparams}


_TABLE_ROWS: tuple[tuple[str, str, str], ...] = (
    ("ce", "ce+cw", "Out-of-corpus (CE)"),
    ("soft", "soft+cw", "Soft label [17]"),
    ("ls", "ls+cw", "Label smoothing (LS) [18]"),
    ("unigram", "unigram+cw", "Unigram smoothing [18]"),
    ("focal", "focal+cw", "Focal loss [19]"),
    ("ae", "ae+cw", "AE [20]"),
    ("cww", "cww+cw", "CWW [11]"),
    ("contrastive", "contrastive+cw", "Contrastive loss [25]"),
    ("proxy_anchor", "proxy_anchor+cw", "Proxy-Anchor [26]"),
    ("cww_pel", "cww+pel+cw", "CWW + PEL [11]"),
    ("dagger", "dagger+cw", "AE + LS + PEL (†)"),
    ("cww_dagger", "cww+dagger+cw", "CWW + †"),
    ("proxy_anchor_dagger", "proxy_anchor+dagger+cw", "Proxy-Anchor + †"),
    ("cww_proxy_anchor_dagger", "cww+proxy_anchor+dagger+cw", "CWW + Proxy-Anchor + †"),
    ("self_kd", "self_kd+cw", "Self-KD"),
    ("rd", "rd+cw", "Relative difficulty (RD)"),
    ("cww_rd", "cww+rd+cw", "CWW + RD"),
    ("lr", "lr+cw", "Labeling Reliability (LR)"),
    ("ls_lr", "ls+lr+cw", "LS + LR"),
    ("rd_cww_dagger", "rd+cww+dagger+cw", "RD + CWW + †"),
    ("lr_cww_ae_pel", "lr+cww+ae+pel+cw", "LR + CWW + AE + PEL"),
    ("lr_cww_dagger", "lr+cww+dagger+cw", "LR + CWW + †"),
    ("rdlr_dagger", "rdlr+dagger+cw", "RD + LR (RDLR) + †"),
    ("rdlr_cww_ae_pel", "rdlr+cww+ae+pel+cw", "RDLR + CWW + AE + PEL"),
    ("rdlr_cww_dagger", "rdlr+cww+dagger+cw", "RDLR + CWW + † (proposed)"),
)

_REGISTRY: dict[str, Method] = {
    method_id: Method(id=method_id, label=label, components=parse_components(composition))
    for method_id, composition, label in _TABLE_ROWS
}

TABLE2_METHODS: tuple[str, ...] = tuple(method_id for method_id, _, _ in _TABLE_ROWS)
TABLE3_METHODS: tuple[str, ...] = (
    "ce",
    "dagger",
    "cww_dagger",
    "proxy_anchor_dagger",
    "cww_proxy_anchor_dagger",
    "rd_cww_dagger",
    "lr_cww_dagger",
    "rdlr_dagger",
    "rdlr_cww_dagger",
)


def list_methods() -> list[str]:
    """Ids of every registered method: the 25 out-of-corpus rows of Table 2 (Table 3 reuses them)."""
    return list(_REGISTRY)


def get_method(name: str) -> Method:
    """A registered method by id, or any composition string such as ``"rd+lr+cww+ae+ls+pel"``."""
    key = name.strip().lower()
    if key in _REGISTRY:
        return _REGISTRY[key]
    if "+" in key:
        return Method.from_string(key)
    if key in COMPONENTS:
        return Method.from_string(key)
    raise ValueError(
        f"unknown method {name!r}; valid ids: {', '.join(_REGISTRY)} "
        f"(or a composition of components joined by '+': {', '.join(COMPONENTS)})"
    )
