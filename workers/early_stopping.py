"""Early stopping on a validation metric."""

from dataclasses import dataclass

from models.spec import EarlyStoppingSpec


@dataclass
class EarlyStopping:
    """Tracks the best value of the monitored metric and the epochs since it improved."""

    rule: EarlyStoppingSpec
    best: float | None = None
    stale_epochs: int = 0

    def should_stop(self, value: float) -> bool:
        """Record this epoch's value; True once `patience` epochs pass without improvement."""
        sign = -1.0 if self.rule.metric == "val_loss" else 1.0
        if self.best is None or sign * (value - self.best) > self.rule.min_delta:
            self.best = value
            self.stale_epochs = 0
        else:
            self.stale_epochs += 1
        return self.stale_epochs >= self.rule.patience
