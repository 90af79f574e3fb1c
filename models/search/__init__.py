"""Searches: the search spec, its space applied to a spec, and the Optuna study behind it.

Optuna stays in `study`; the rest of reglab speaks of searches, configurations and runs.
"""
