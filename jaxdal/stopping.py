"""When training stops: the paper's rule, fed one epoch at a time, and what
a fit reports."""

from typing import NamedTuple

__all__ = ["FitResult", "StoppingRule"]


class FitResult(NamedTuple):
  """What `fit` did: epochs run, final accuracies, the last epoch's mean
  training loss, and why it stopped ("train_accuracy", "patience",
  "max_epochs", or "diverged" when the loss stopped being finite)."""
  epochs: int
  train_accuracy: float
  val_accuracy: float
  best_val_accuracy: float
  stop_reason: str
  steps: int
  train_loss: float = float("nan")


class StoppingRule:
  """The paper's stopping rule, fed one epoch at a time: stop when training
  accuracy reaches `target_train_accuracy` (a fraction in (0, 1]; None:
  never), or after `patience` epochs without a new best validation accuracy
  (if there is validation data)."""

  def __init__(self, target_train_accuracy: float | None, patience: int, *,
               has_validation: bool):
    self.target = target_train_accuracy
    self.patience = patience
    self.has_validation = has_validation
    self.best_val, self.since_best = -1.0, 0

  def update(self, train_acc: float, val_acc: float) -> str | None:
    """The reason to stop after this epoch, or None to go on."""
    if self.target is not None and train_acc >= self.target:
      return "train_accuracy"
    if self.has_validation:
      if val_acc > self.best_val:
        self.best_val, self.since_best = val_acc, 0
      else:
        self.since_best += 1
        if self.since_best >= self.patience:
          return "patience"
    return None

  def result(self, epochs: int, train_acc: float, val_acc: float,
             reason: str, steps: int, train_loss: float) -> FitResult:
    return FitResult(epochs=epochs, train_accuracy=train_acc,
                     val_accuracy=val_acc,
                     best_val_accuracy=max(self.best_val, val_acc),
                     stop_reason=reason, steps=steps, train_loss=train_loss)
