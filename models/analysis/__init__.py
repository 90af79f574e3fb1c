"""Analysis of finished runs: comparison, seed groups with intervals, regularization reports."""
