"""Flows that span several steps, each owning its transaction: routes and tasks call them.

`experiments` submits (all or nothing) and cancels, `searches` keeps a search going,
`reconciler` finds what a worker or the broker lost, `datasets` stores an upload (its blob
and its version) and deletes one.
"""
