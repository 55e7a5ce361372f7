"""Reports over run directories: paper-style tables with published baselines, leaderboards over many
runs, and paired regression comparisons of two runs.

* :mod:`.baselines` — published numbers (``reports/baselines/*.yaml``), each with its source.
* :mod:`.tables` — table layouts (``reports/tables/*.yaml``) filled from runs and baselines.
* :mod:`.render_md`, :mod:`.render_html`, :mod:`.render_latex`, :mod:`.render_csv`,
  :mod:`.render_term` — the same tables in each output format; :mod:`.render_json` — report,
  leaderboard and comparison as JSON for scripts (docs/output-json.md).
* :mod:`.leaderboard` — one row per run over a folder of runs, sortable, CSV / Parquet export.
* :mod:`.compare` — two runs, per benchmark and category, with paired intervals and tests.
"""
