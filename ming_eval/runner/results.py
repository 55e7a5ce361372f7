"""The run's ``results.json``: every task's results, and the suite summaries computed over them."""

from __future__ import annotations

from collections.abc import Mapping

from ming_eval.core.results import TaskResult
from ming_eval.core.summaries import Summary
from ming_eval.registry import summary_catalog
from ming_eval.store.run_store import RunStore


def write_run_results(store: RunStore, results: Mapping[str, TaskResult]) -> dict[str, Summary]:
    """Merge ``results`` into the run's results.json, with the summaries of the suite cards computed
    over every task the run directory now holds (earlier invocations' tasks included); returns them."""
    merged = {**store.results_to_merge(), **results}
    summaries = summary_catalog().compute_all(merged)
    store.write_results(dict(results), summaries)
    return summaries
