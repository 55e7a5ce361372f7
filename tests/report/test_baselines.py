"""The published baselines: every number has a source, sources agree with each other, selection works."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import yaml

from ming_eval.errors import CardError, UnknownNameError
from ming_eval.report.baselines import load_baselines_file, load_catalog
from ming_eval.report.tables import load_table_specs

GENEVAL_TAGS = ("single_object", "two_object", "counting", "colors", "position", "color_attr")


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_the_sources_are_there(catalog):
    assert list(catalog.sets) == ["ming-lite-uni", "janus-pro", "bagel", "metaquery", "sana", "wise"]
    tables = {(b.set, b.table) for entries in catalog.sets.values() for b in entries}
    assert ("ming-lite-uni", "understanding") in tables and ("ming-lite-uni", "geneval") in tables
    assert ("janus-pro", "geneval") in tables and ("bagel", "geneval") in tables
    assert ("janus-pro", "dpg_bench") in tables and ("metaquery", "dpg_bench") in tables
    assert ("wise", "wise") in tables and ("wise", "wise_verified") in tables


def test_every_value_has_a_source_and_fits_its_table(catalog):
    columns = {spec.name: {c.key for c in spec.columns} for spec in load_table_specs()}
    for b in catalog.by_key.values():
        assert set(b.values) <= columns[b.table], b.key
        for col in b.values:
            assert b.citations[col], f"{b.key}:{col} has no source"


def test_the_unverified_values_are_exactly_bagels_per_category_numbers(catalog):
    # The lead is told which numbers could not be checked against a primary source: these.
    unverified = sorted(
        (b.key, col)
        for b in catalog.by_key.values()
        for col in b.values
        if not b.verified(col) and b.table == "geneval"  # GEdit-Bench's: tests/tasks/gedit
    )
    expected = sorted(
        (key, tag)
        for key in (
            "bagel/geneval/bagel",
            "bagel/geneval/bagel-rewritten",
            "bagel/geneval/flux.1-dev-rewritten",
            "bagel/geneval/emu3-gen-rewritten",
            "bagel/geneval/show-o-512",
        )
        for tag in GENEVAL_TAGS
    )
    assert unverified == expected


def _decimals(value: float) -> int:
    text = repr(value)
    return len(text.split(".")[1]) if "." in text else 0


def test_published_rows_agree_across_sources(catalog):
    # The same model quoted by two sources (e.g. Janus-Pro-1B in Ming-Lite-Uni's Table 3 and in
    # Janus-Pro's Table 4) must have the same values: a transcription slip shows up here.
    def name(b):
        return b.model.replace(" (published)", "")

    rows = [b for b in catalog.by_key.values()]
    compared = 0
    for a, b in itertools.combinations(rows, 2):
        if a.set == b.set or a.table != b.table or name(a) != name(b) or a.rewritten != b.rewritten:
            continue
        for col in set(a.values) & set(b.values):
            # a source that prints fewer decimals (Sana's README: one) agrees once rounded alike
            digits = min(_decimals(a.values[col]), _decimals(b.values[col]))
            assert round(a.values[col], digits) == round(b.values[col], digits), (a.key, b.key, col)
            compared += 1
    assert compared >= 60


def test_geneval_overall_is_the_mean_of_the_six_tags(catalog):
    # Overall = mean of the tag accuracies; with every number rounded to 2 digits the difference
    # stays within 0.011. A mistyped digit breaks it. TokenFlow-XL's published row is itself
    # inconsistent (tags average 0.528, overall 0.55) in both Ming-Lite-Uni's and Janus-Pro's table.
    inconsistent_at_source = {"ming-lite-uni/geneval/tokenflow-xl", "janus-pro/geneval/tokenflow-xl"}
    for b in catalog.by_key.values():
        if b.key in inconsistent_at_source:
            continue
        if b.table == "geneval" and all(t in b.values for t in GENEVAL_TAGS):
            mean = sum(b.values[t] for t in GENEVAL_TAGS) / 6
            assert abs(mean - b.values["overall"]) <= 0.011, b.key


def test_table2_avg_is_not_the_mean_of_its_seven_columns(catalog):
    # Why the understanding table's Avg. uses the OpenCompass 8-benchmark average (with OCRBench).
    ming = catalog.by_key["ming-lite-uni/understanding/ming-lite-uni"]
    seven = [ming.values[k] for k in ("mmb", "mms", "mmmu", "mathv", "hall", "ai2d", "mmvet")]
    assert sum(seven) / 7 == pytest.approx(67.04, abs=0.01)
    assert ming.values["avg"] == 69.7


def test_dagger_means_rewritten_prompts_only(catalog):
    rewritten = {b.key for b in catalog.by_key.values() if b.rewritten}
    assert "bagel/geneval/bagel-rewritten" in rewritten and "metaquery/geneval/metaquery-xl" in rewritten
    # Janus-Pro's "†" (external diffusion model) is a note, not a rewritten-prompt dagger
    seed_x = catalog.by_key["janus-pro/geneval/seed-x"]
    assert not seed_x.rewritten and "external pretrained diffusion" in seed_x.note
    assert all(b.label.endswith("†") == b.rewritten for b in catalog.by_key.values())


@pytest.mark.parametrize(
    ("selection", "expected"),
    [
        ("none", set()),
        ("paper", {"ming-lite-uni"}),
        ("bagel,metaquery", {"bagel", "metaquery"}),
        ("all", {"ming-lite-uni", "janus-pro", "bagel", "metaquery", "sana", "wise"}),
    ],
)
def test_select_sets(catalog, selection, expected):
    assert {b.set for b in catalog.select(selection)} == expected


def test_select_keys_and_prefixes(catalog):
    assert [b.key for b in catalog.select("bagel/geneval/bagel")] == ["bagel/geneval/bagel"]
    assert {b.table for b in catalog.select("metaquery/understanding")} == {"understanding"}
    assert len(catalog.select("paper,ming-lite-uni")) == len(catalog.sets["ming-lite-uni"])  # no repeats


def test_unknown_baseline_key_suggests(catalog):
    with pytest.raises(UnknownNameError) as exc:
        catalog.select("bagel/geneval/bagle")
    assert "bagel/geneval/bagel" in exc.value.suggestions
    assert "--list-baselines" in str(exc.value)


def _write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "mine.yaml"
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    return path


def _mine(**entry_overrides) -> dict:
    entry = {
        "key": "lab/geneval/our-ckpt",
        "model": "Our ckpt",
        "table": "geneval",
        "values": {"overall": 0.7},
        "from": [{"source": "wiki", "verified": True}],
    }
    entry.update(entry_overrides)
    return {
        "format": "ming-eval-baselines/1",
        "set": "lab",
        "sources": {"wiki": {"kind": "page", "url": "https://wiki.example/run42"}},
        "entries": [entry],
    }


def test_a_users_own_baselines_file(catalog, tmp_path):
    path = _write(tmp_path, _mine())
    chosen = catalog.select(f"paper,{path}")
    assert chosen[-1].key == "lab/geneval/our-ckpt" and chosen[-1].verified("overall")
    assert [s.url for s in chosen[-1].sources()] == ["https://wiki.example/run42"]


def test_a_value_without_source_is_refused(tmp_path):
    path = _write(tmp_path, _mine(**{"from": [{"source": "wiki", "columns": ["counting"], "verified": True}]}))
    with pytest.raises(CardError, match="names column 'counting', which has no value"):
        load_baselines_file(path)
    path = _write(
        tmp_path,
        _mine(
            values={"overall": 0.7, "counting": 0.5},
            **{"from": [{"source": "wiki", "columns": ["overall"], "verified": True}]},
        ),
    )
    with pytest.raises(CardError, match="value of 'counting' has no source"):
        load_baselines_file(path)


def test_unknown_source_and_unknown_keys_are_refused(tmp_path):
    path = _write(tmp_path, _mine(**{"from": [{"source": "blog", "verified": False}]}))
    with pytest.raises(CardError, match="unknown source 'blog'"):
        load_baselines_file(path)
    path = _write(tmp_path, _mine(dagger=True))
    with pytest.raises(CardError, match="dagger"):
        load_baselines_file(path)


def test_a_missing_baselines_file_is_named(catalog, tmp_path):
    with pytest.raises(CardError, match="does not exist"):
        catalog.select(str(tmp_path / "nope.yaml"))


def test_dpg_bench_rows_read_from_janus_pro_table_5(catalog):
    row = catalog.by_key["janus-pro/dpg_bench/janus-pro-7b"]
    assert row.values == {
        "global": 86.90,
        "entity": 88.90,
        "attribute": 89.40,
        "relation": 89.32,
        "other": 89.48,
        "overall": 84.19,
    }
    assert row.verified("overall") and "Table 5" in row.sources()[0].text
    assert catalog.by_key["metaquery/dpg_bench/metaquery-xl"].values == {"overall": 82.05}
