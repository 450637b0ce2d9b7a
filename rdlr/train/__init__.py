"""One trial of the paper's training protocol, pure PyTorch (no Ray import): :func:`run_trial` trains the classifier F
of Section 2 with a method's loss (11) on a :class:`TrialData` and returns a :class:`TrialResult`."""

from rdlr.train.config import TrainConfig, TrialResult
from rdlr.train.data import PreparedRows, TrialData
from rdlr.train.loop import run_trial

__all__ = ["PreparedRows", "TrainConfig", "TrialData", "TrialResult", "run_trial"]
