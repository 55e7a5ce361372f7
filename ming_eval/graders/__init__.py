"""Graders: models that scorers ask about predictions (see :mod:`ming_eval.graders.base`)."""
