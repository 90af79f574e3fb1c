"""What an upload turns into, and the bookkeeping shared by every format while it is read.

Readers hand `Reading.add` blocks of examples as they decode them; `Reading` encodes the
labels, counts the classes, applies the bounds as it goes and, when asked to keep the
arrays, stacks them once at the end.
"""

import re
from dataclasses import dataclass
from math import prod
from typing import Any

import numpy as np
from numpy.typing import NDArray

from models.ingest.base import body_error
from models.ingest.limits import IngestLimits
from models.spec.catalog import DatasetShape

Features = NDArray[np.float32]
Labels = NDArray[np.int64]
CANONICAL_INT = re.compile(r"-?(0|[1-9][0-9]*)")
SPLITS = {"train": ("x", "y"), "test": ("x_test", "y_test")}


@dataclass(frozen=True)
class DatasetSummary:
    """An upload's shape and classes: what the store records and `resolve` needs."""

    input_shape: tuple[int, ...]
    class_names: list[str]
    class_counts: list[int]  # training examples per class, in class_names order
    test_class_counts: list[int] | None  # per class in the explicit test split, if any

    @property
    def n_examples(self) -> int:
        """Examples in the training data (x)."""
        return sum(self.class_counts)

    @property
    def n_test(self) -> int:
        """Examples in the explicit test split (0 without one)."""
        return sum(self.test_class_counts or ())

    @property
    def shape(self) -> DatasetShape:
        """The catalog's view of the data: input shape, classes and every example."""
        return DatasetShape(self.input_shape, len(self.class_names), self.n_examples + self.n_test)


@dataclass(frozen=True)
class IngestedDataset(DatasetSummary):
    """An upload read whole: float32 inputs (n, *input_shape) and labels 0..k-1."""

    x: Features
    y: Labels
    x_test: Features | None = None
    y_test: Labels | None = None


class LabelEncoder:
    """Labels (ints or strings) to dense codes in order of appearance, bounded in number."""

    def __init__(self, limits: IngestLimits) -> None:
        self.limits = limits
        self.codes: dict[Any, int] = {}

    def encode(self, values: NDArray[Any]) -> Labels:
        """The codes of `values`, new labels getting the next ones."""
        distinct, inverse = np.unique(values, return_inverse=True)
        return self.encode_distinct(distinct.tolist(), inverse.reshape(-1))

    def encode_distinct(self, distinct: list[Any], inverse: NDArray[np.integer[Any]]) -> Labels:
        """The codes of labels given as their distinct values and each one's index among them."""
        for value in distinct:
            self.codes.setdefault(value, len(self.codes))
        self.limits.check("max_classes", len(self.codes), "distinct labels")
        if "" in self.codes:
            raise body_error("a label is empty; every example needs a class")
        lookup = np.array([self.codes[v] for v in distinct], dtype=np.int64)
        codes: Labels = lookup[inverse]
        return codes

    def order(self) -> tuple[list[str], Labels]:
        """Class names in sorted order, and the map from appearance codes to sorted codes.

        Integer labels (and strings that are all integers in decimal form) sort by value,
        so labels 0..k-1 keep their codes; other strings sort as text.
        """
        labels = list(self.codes)
        if all(isinstance(v, str) and CANONICAL_INT.fullmatch(v) for v in labels):
            labels = [int(v) for v in labels]
        numeric = all(isinstance(v, int) for v in labels)
        ranked = sorted(range(len(labels)), key=lambda i: labels[i] if numeric else str(labels[i]))
        remap = np.empty(len(labels), dtype=np.int64)
        remap[ranked] = np.arange(len(labels))
        return [str(labels[i]) for i in ranked], remap


def first_nonfinite(x: NDArray[Any], rows: int = 65_536) -> tuple[int, ...] | None:
    """The index of the first NaN or infinite value of `x`, scanned a slab of rows at a time."""
    for start in range(0, len(x), rows):
        bad = np.argwhere(~np.isfinite(x[start : start + rows]))
        if len(bad):
            return (start + int(bad[0][0]), *(int(i) for i in bad[0][1:]))
    return None


def as_features(x: NDArray[Any]) -> Features:
    """`x` as float32; values past float32's range become inf (and are refused as such)."""
    with np.errstate(over="ignore", invalid="ignore"):
        return x.astype(np.float32, copy=False)


class SplitBlocks:
    """One split's blocks as read: always counted, kept only when the arrays are wanted."""

    def __init__(self, keep: bool) -> None:
        self.keep = keep
        self.x: list[Features] = []
        self.y: list[Labels] = []
        self.n = 0
        self.codes_seen: dict[int, int] = {}
        self.example_shape: tuple[int, ...] | None = None

    def add(self, x: Features, codes: Labels) -> None:
        """Count (and keep) a block of examples with their label codes."""
        self.n += len(codes)
        for code, count in zip(*np.unique(codes, return_counts=True), strict=True):
            self.codes_seen[int(code)] = self.codes_seen.get(int(code), 0) + int(count)
        if self.keep:
            self.x.append(x)
            self.y.append(codes)

    def counts(self, remap: Labels, k: int) -> list[int]:
        """Examples per class, in sorted class order."""
        counts = [0] * k
        for code, count in self.codes_seen.items():
            counts[int(remap[code])] = count
        return counts

    def stacked(self, remap: Labels) -> tuple[Features, Labels]:
        """The kept blocks as one array each (for a moment, the data is held twice)."""
        x, y = np.concatenate(self.x), remap[np.concatenate(self.y)]
        self.x, self.y = [], []
        return x, y


class Reading:
    """One upload being read: its labels, its splits and the bounds that span them."""

    def __init__(self, limits: IngestLimits, keep: bool) -> None:
        self.limits = limits
        self.labels = LabelEncoder(limits)
        self.splits = {name: SplitBlocks(keep) for name in SPLITS}

    def add(self, split: str, x: Features, labels: NDArray[Any]) -> None:
        """Take a block of examples (n, *input_shape) and their n raw labels."""
        self.add_coded(split, x, self.labels.encode(labels))

    def add_coded(self, split: str, x: Features, codes: Labels) -> None:
        """Take a block of examples whose labels went through `self.labels` already."""
        blocks = self.splits[split]
        self.expect_shape(split, x.shape[1:])
        blocks.add(x, codes)
        examples = sum(s.n for s in self.splits.values())
        self.limits.check("max_examples", examples, "examples")
        self.limits.check("max_values", examples * prod(x.shape[1:]), "input values")

    def expect_shape(self, split: str, shape: tuple[int, ...]) -> None:
        """Refuse examples of `split` shaped unlike the first ones seen (in any split)."""
        blocks = self.splits[split]
        blocks.example_shape = blocks.example_shape or shape
        seen = [(SPLITS[s][0], b.example_shape) for s, b in self.splits.items() if b.example_shape]
        (first, expected), (name, got) = seen[0], (SPLITS[split][0], shape)
        if len(got) != len(expected):
            raise body_error(
                f"x has {len(got)} dimensions per example in {name} but {len(expected)} in {first}"
            )
        if got != expected:
            raise body_error(f"examples are {got} in {name} but {expected} in {first}")

    def summary(self) -> DatasetSummary:
        """Shape, classes and counts; errors for too few classes or a test-only class."""
        names, remap = self._classes()
        train, test = self.splits["train"], self.splits["test"]
        assert train.example_shape is not None
        return DatasetSummary(
            input_shape=train.example_shape,
            class_names=names,
            class_counts=train.counts(remap, len(names)),
            test_class_counts=test.counts(remap, len(names)) if test.n else None,
        )

    def dataset(self) -> IngestedDataset:
        """The summary with the kept arrays, labels in sorted class order."""
        summary = self.summary()
        _, remap = self.labels.order()
        x, y = self.splits["train"].stacked(remap)
        test = self.splits["test"].stacked(remap) if self.splits["test"].n else (None, None)
        return IngestedDataset(**vars(summary), x=x, y=y, x_test=test[0], y_test=test[1])

    def _classes(self) -> tuple[list[str], Labels]:
        names, remap = self.labels.order()
        train, test = self.splits["train"], self.splits["test"]
        if not train.n:
            raise body_error("no examples: the file holds no data rows, images or x entries")
        if len(train.codes_seen) < 2:
            only = names[int(remap[next(iter(train.codes_seen))])]
            raise body_error(f"only one class ({only!r}); a classifier needs at least two")
        unseen = sorted(int(remap[c]) for c in set(test.codes_seen) - set(train.codes_seen))
        if unseen:
            raise body_error(f"y_test holds class {names[unseen[0]]!r}, which y does not")
        return names, remap
