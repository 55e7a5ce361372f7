"""ming-eval's test helpers, kept out of the product API (the way ``numpy.testing`` is).

- :mod:`.tiny`: tiny random checkpoints in the real on-disk layouts of the zoo's model families;
- :mod:`.fixtures`: small data files in the benchmarks' real formats (VLMEvalKit TSVs, GenEval
  metadata) and GenEval's tiny random detector and CLIP;
- :mod:`.registry`: which tiny checkpoint belongs to which adapter class and which generated data to
  which task class, for ``ming-eval selftest`` and the tests.

Adapters and tasks carry no test code: the self-test finds a family's builder here, by class path.
Outside this package only :mod:`ming_eval.selftest` imports it. A tiny model's outputs mean nothing.
"""
