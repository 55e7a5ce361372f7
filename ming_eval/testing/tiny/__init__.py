"""Tiny random checkpoints in the real on-disk layouts, one module per model family.

Each family module has a ``card_overrides(folder)`` function (more than one for diffusers: one per
pipeline) that writes the checkpoint into ``folder`` and returns the model-card fields (at least
``checkpoint``) that make the family's card run on it; :mod:`ming_eval.testing.registry` maps adapter
classes to them.
"""
