"""The paper's text feature set (Section 3.2): Whisper transcripts encoded by BERT, 768 dims for bert-base-uncased.

"We used a speech recognition model, Whisper (medium.en) to extract text information and then transformed them
into 768-dimensional BERT (bert-base-uncased) features." Transcripts come from Whisper (the openai-whisper package,
loaded from a local checkpoint file) or, where the manifest has a non-empty ``transcript`` and
``use_manifest_transcripts`` is set, from the corpus itself. Each transcript and the model that produced it are
returned in ``Extracted.extras`` (``transcript``, ``asr_model``: the checkpoint file name or ``"manifest"``).

Pooling: the utterance vector is the mean of BERT's last-layer token states over the real tokens (``[CLS]`` and
``[SEP]`` included, padding excluded). The paper only says "BERT features"; without fine-tuning, BERT's ``[CLS]``
state is trained only for next-sentence prediction and is a weaker sentence representation than the token mean
(Reimers & Gurevych, Sentence-BERT, EMNLP 2019, Table 1: averaged BERT token embeddings score well above the
``[CLS]`` vector on the STS benchmarks). Mean pooling is also what sentence encoders built on BERT are trained with
(e.g. all-MiniLM-L6-v2), so the same code is right for them. An empty transcript (silence) is encoded as the empty
string: ``[CLS]`` ``[SEP]`` only.

Whisper decodes greedily (temperature 0, no sampling fallback) so that re-extraction gives the same transcript.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch

from rdlr.features.audio import record_audio
from rdlr.features.base import Extracted, Extractor, ExtractorConfig, UtteranceError
from rdlr.features.local_models import (
    from_local_folder,
    hidden_size,
    require_model_dir,
    require_model_file,
    resolved_path,
)
from rdlr.features.pooling import masked_mean
from rdlr.features.safe_unpickle import load_checkpoint

MANIFEST = "manifest"
WHISPER_WHAT = "Whisper checkpoint (a local .pt file, e.g. medium.en.pt)"
WHISPER_ADVICE = "Use an unmodified openai-whisper checkpoint (e.g. medium.en.pt as whisper downloads it)."


@dataclass(frozen=True)
class TextConfig(ExtractorConfig):
    """Settings of the Whisper → BERT text features (local paths are stored resolved).

    ``bert_dir``: save_pretrained folder of the text encoder (bert-base-uncased in the paper).
    ``whisper_checkpoint``: local Whisper ``.pt`` file (medium.en in the paper); ``None`` = manifest transcripts only.
    ``whisper_language``: language passed to Whisper (``None`` = detect; English-only models need ``"en"``).
    ``max_tokens``: BERT input length, ``[CLS]`` and ``[SEP]`` included; longer transcripts are truncated.
    ``use_manifest_transcripts``: use a record's own non-empty ``transcript`` instead of running Whisper.
    """

    bert_dir: str
    whisper_checkpoint: str | None = None
    whisper_language: str | None = "en"
    max_tokens: int = 128
    use_manifest_transcripts: bool = True

    def __post_init__(self) -> None:
        if not isinstance(self.max_tokens, int) or self.max_tokens < 2:
            raise ValueError(f"max_tokens must be an int >= 2 ([CLS] + [SEP]), got {self.max_tokens!r}")
        object.__setattr__(self, "bert_dir", resolved_path(self.bert_dir))
        if self.whisper_checkpoint is not None:
            object.__setattr__(self, "whisper_checkpoint", resolved_path(self.whisper_checkpoint))


def load_whisper(checkpoint: Path) -> Any:
    """The Whisper model in a local ``.pt`` file, built as ``whisper.load_model`` builds it from a file, but read
    by :func:`rdlr.features.safe_unpickle.load_checkpoint`: a file naming a global outside the weights-only
    allow-list is one ``ValueError`` line naming the file and the global."""
    from whisper.model import ModelDimensions, Whisper

    state = load_checkpoint(checkpoint, advice=WHISPER_ADVICE)
    if not isinstance(state, dict) or not isinstance(state.get("dims"), dict) or "model_state_dict" not in state:
        raise ValueError(f"{checkpoint}: not a Whisper checkpoint (no 'dims' and 'model_state_dict'). {WHISPER_ADVICE}")
    try:
        model = Whisper(ModelDimensions(**state["dims"]))
        model.load_state_dict(state["model_state_dict"])
    except (TypeError, RuntimeError) as error:
        raise ValueError(
            f"{checkpoint}: its 'dims' or weights do not make a Whisper model "
            f"({str(error).splitlines()[0]}). {WHISPER_ADVICE}"
        ) from None
    return model


def manifest_transcript(record: dict[str, Any]) -> str | None:
    """The record's own transcript when it is a non-empty string (pandas gives NaN for missing cells)."""
    text = record.get("transcript")
    return text.strip() if isinstance(text, str) and text.strip() else None


class BertTextExtractor(Extractor):
    """Mean-pooled last-layer BERT states of each utterance's transcript; ``dim`` = the encoder's hidden size."""

    name: ClassVar[str] = "bert"

    def __init__(self, config: TextConfig) -> None:
        self.config = config
        self.dim = hidden_size(config.bert_dir, "BERT")
        self._tokenizer: Any = None
        self._bert: Any = None
        self._whisper: Any = None
        self._device = torch.device("cpu")

    @property
    def asr_model(self) -> str | None:
        """Provenance of Whisper transcripts: the checkpoint's file name."""
        return None if self.config.whisper_checkpoint is None else Path(self.config.whisper_checkpoint).name

    def check_models(self) -> None:
        """The BERT folder and, if configured, the Whisper checkpoint exist."""
        require_model_dir(self.config.bert_dir, "BERT")
        if self.config.whisper_checkpoint is not None:
            require_model_file(self.config.whisper_checkpoint, WHISPER_WHAT)

    def setup(self, device: str = "cpu") -> None:
        """Load the tokenizer and encoder (``local_files_only``) and, if configured, Whisper onto ``device``."""
        from transformers import AutoModel, AutoTokenizer

        bert_dir = require_model_dir(self.config.bert_dir, "BERT")
        self._device = torch.device(device)
        self._tokenizer = from_local_folder(AutoTokenizer.from_pretrained, bert_dir, "BERT")
        bert = from_local_folder(AutoModel.from_pretrained, bert_dir, "BERT")
        self._bert = bert.float().to(self._device).eval()
        if self.config.whisper_checkpoint is not None:
            checkpoint = require_model_file(self.config.whisper_checkpoint, WHISPER_WHAT)
            self._whisper = load_whisper(checkpoint).to(self._device).eval()

    def transcribe(self, wave: np.ndarray) -> str:
        """Whisper's greedy transcript of a 16 kHz mono waveform ("" when it hears no speech)."""
        if self._whisper is None:
            raise RuntimeError("no Whisper model loaded: set TextConfig.whisper_checkpoint and call setup()")
        result = self._whisper.transcribe(
            np.ascontiguousarray(wave, dtype=np.float32),
            language=self.config.whisper_language,
            temperature=0.0,
            condition_on_previous_text=False,
            fp16=self._device.type == "cuda",
            verbose=None,
        )
        return str(result["text"]).strip()

    def embed_texts(self, texts: list[str]) -> np.ndarray:
        """(N, dim) float32 mean-pooled last-layer states of ``texts`` (see the module docstring)."""
        if self._bert is None:
            raise RuntimeError("BertTextExtractor.setup(device) must be called before extracting")
        tokens = self._tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.config.max_tokens, return_tensors="pt"
        ).to(self._device)
        with torch.inference_mode():
            states = self._bert(**tokens).last_hidden_state
            pooled = masked_mean(states, tokens["attention_mask"])
        return pooled.cpu().numpy().astype(np.float32)

    def _transcript(self, record: dict[str, Any]) -> tuple[str, str]:
        """(transcript, asr_model) of one record; failures raise :class:`UtteranceError`."""
        own = manifest_transcript(record) if self.config.use_manifest_transcripts else None
        if own is not None:
            return own, MANIFEST
        if self._whisper is None:
            raise UtteranceError(
                f"no transcript in the manifest and no Whisper checkpoint configured: {record['path']}"
            )
        wave = record_audio(record)
        try:
            return self.transcribe(wave), str(self.asr_model)
        except torch.OutOfMemoryError:
            if self._device.type == "cuda":
                torch.cuda.empty_cache()
            raise UtteranceError(f"out of {self._device.type} memory while transcribing: {record['path']}") from None

    def extract(self, batch: list[dict[str, Any]]) -> list[Extracted]:
        """Transcribe (or take) each record's text, then encode all texts of the batch in one BERT pass."""
        if self._bert is None:
            raise RuntimeError("BertTextExtractor.setup(device) must be called before extracting")
        results = [Extracted() for _ in batch]
        texts: list[tuple[int, str]] = []
        for index, record in enumerate(batch):
            try:
                text, source = self._transcript(record)
            except UtteranceError as error:
                results[index].error = str(error)
                continue
            results[index].extras = {"transcript": text, "asr_model": source}
            texts.append((index, text))
        if texts:
            vectors = self.embed_texts([text for _, text in texts])
            for (index, _), vector in zip(texts, vectors):
                results[index].vector = vector
        return results
