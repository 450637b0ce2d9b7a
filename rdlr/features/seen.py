"""The contamination guard: backbones whose training data held a corpus one tests on (``seen_corpora``).

A sweep spec (``seen_corpora: {FEATURE_SET: [CORPUS, ...]}``, ``allow_seen``) or ``rdlr train --seen-corpora``
records what the backbone of a feature set was trained or fine-tuned on; a key without a layer suffix
(``whisper``, ``hf:/models/wavlm-large``) covers every layer of that encoder (``whisper@6``), a key with one
(``whisper@6``) only that layer. A job whose held-out corpus the backbone of one of its feature sets saw is refused
before Ray starts unless ``allow_seen`` is set; then the report marks its cells (:data:`SEEN_MARK`).
Pure Python: the spec, ``rdlr train`` and the report use it without importing torch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from rdlr.features.registry import layered_name, parse_feature_sets, store_name

SEEN_MARK = "§"
ALLOW_HINT = "set allow_seen: true (rdlr train: --allow-seen) to run it anyway; the report marks those cells"


def backbone_keys(feature_set: str) -> tuple[str, str]:
    """(store name of the feature set, store name of its encoder without a layer): ``whisper@6`` ->
    (``whisper@6``, ``whisper``); ``hf:/m/wavlm@3`` -> (``hf-wavlm@3``, ``hf-wavlm``)."""
    return store_name(feature_set), store_name(layered_name(feature_set).base)


def seen_by(features: str, corpus: str, seen_corpora: Mapping[str, Iterable[str]]) -> list[str]:
    """The ``seen_corpora`` keys under which a feature set of ``features`` (``is10+whisper@6``) saw ``corpus``."""
    found = []
    for key, corpora in seen_corpora.items():
        wanted = store_name(key)
        if corpus in set(corpora) and any(wanted in backbone_keys(name) for name in parse_feature_sets(features)):
            found.append(key)
    return found


def unmatched_keys(seen_corpora: Mapping[str, Iterable[str]], features: Iterable[str]) -> list[str]:
    """Keys of ``seen_corpora`` that cover none of the feature sets in ``features`` (likely typos)."""
    covered = {key for text in features for name in parse_feature_sets(text) for key in backbone_keys(name)}
    return [key for key in seen_corpora if store_name(key) not in covered]


def refusal(features: str, corpus: str, keys: list[str]) -> str:
    """The one line that refuses a job: the feature set, the held-out corpus and the key that says it was seen."""
    return (
        f"features {features!r} on held-out corpus {corpus!r}: seen_corpora says the backbone of "
        f"{keys[0]!r} was trained on {corpus}, so the test would not be cross-corpus; {ALLOW_HINT}"
    )


def seen_note(features: str, corpora: list[str], keys: list[str]) -> str:
    """The note under a report table explaining the marked cells of one feature set."""
    return (
        f"{SEEN_MARK} {features}: the backbone of {', '.join(keys)} saw {', '.join(corpora)} in training "
        "(seen_corpora; run with allow_seen); these cells are not evidence of cross-corpus generalisation."
    )


def parse_seen_options(values: Iterable[str]) -> dict[str, tuple[str, ...]]:
    """``--seen-corpora`` values (``FEATURE_SET=CORPUS[,CORPUS...]``, repeatable) as ``seen_corpora``; a value
    without ``=`` or corpora is one ValueError line naming it."""
    seen: dict[str, tuple[str, ...]] = {}
    for value in values:
        key, _, corpora = value.partition("=")
        names = tuple(name.strip() for name in corpora.split(",") if name.strip())
        if not key.strip() or not names:
            raise ValueError(f"--seen-corpora {value!r}: write FEATURE_SET=CORPUS[,CORPUS...], e.g. whisper=IEM,CRE")
        seen[key.strip()] = seen.get(key.strip(), ()) + names
    return seen


def check_seen(features: str, corpora: Iterable[str], seen_corpora: Mapping[str, Iterable[str]]) -> None:
    """Check the held-out ``corpora`` of ``features`` against ``seen_corpora``: a key covering none of the feature
    sets, or a corpus its backbone saw, is one ValueError line (:func:`refusal`)."""
    for key in unmatched_keys(seen_corpora, [features]):
        raise ValueError(f"seen_corpora: {key!r} names no feature set of {features!r}")
    for corpus in corpora:
        keys = seen_by(features, corpus, seen_corpora)
        if keys:
            raise ValueError(refusal(features, corpus, keys))
