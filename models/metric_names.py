"""The names of the per-epoch metrics and of the run summary, as stored and served."""

EPOCH_METRICS = (
    "train_loss",
    "penalty",
    "train_acc",
    "val_loss",
    "val_acc",
    "lr",
    "epoch_seconds",
    "samples_per_second",
)
SUMMARY_METRICS = (
    "test_loss",
    "test_acc",
    "best_val_acc",
    "best_epoch",
    "train_eval_acc",
    "generalization_gap",
    "weight_l1",
    "weight_l2",
    "sparsity",
    "n_params",
    "train_seconds",
)
