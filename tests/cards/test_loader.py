import datetime
from importlib import metadata
from pathlib import Path

import pytest
import yaml

from ming_eval.cards import loader
from ming_eval.cards.schema import GenerateProtocol, ModelCard, UnderstandProtocol
from ming_eval.core.sample import Capability
from ming_eval.errors import CardError, UnknownNameError
from ming_eval.registry import get_model_card, get_task_card

MODEL = {
    "name": "m",
    "class": "tests.engine_plugins:PixelModel",
    "capabilities": ["understand", "generate"],
    "protocol": {"generate": {"steps": 30, "cfg": 5.0, "height": 512, "width": 512}},
    "tasks": {
        "geneval*": {"generate": {"steps": 20}},
        "geneval": {"generate": {"cfg": 4.0, "extra": {"a": 1}}},
        "mmbench*": {"understand": {"prompt_style": "letter"}},
    },
}


def _write(path: Path, data: dict) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(yaml.safe_dump(data))
    return path


def test_protocol_resolution_order():
    card = ModelCard.model_validate(MODEL)
    p = card.protocol_for("geneval", Capability.GENERATE)
    assert isinstance(p, GenerateProtocol)
    assert (p.steps, p.cfg, p.height, p.extra) == (20, 4.0, 512, {"a": 1})
    other = card.protocol_for("geneval_rewritten", Capability.GENERATE)
    assert (other.steps, other.cfg) == (20, 5.0)
    u = card.protocol_for("mmbench_dev_en", Capability.UNDERSTAND)
    assert isinstance(u, UnderstandProtocol) and u.prompt_style == "letter" and u.max_new_tokens == 512
    assert card.protocol_for("mmstar", Capability.UNDERSTAND).prompt_style == "default"


def test_unknown_key_names_card_key_and_allowed(tmp_path):
    bad = dict(MODEL, tasks={"geneval": {"generate": {"stepz": 3}}})
    path = _write(tmp_path / "model_zoo" / "m.yaml", bad)
    with pytest.raises(CardError) as err:
        loader.load_model_card(path)
    text = str(err.value)
    assert str(path) in text
    assert "unknown key 'tasks.geneval.generate.stepz' (did you mean 'steps'?)" in text
    assert "allowed keys:" in text and "steps" in text and "cfg" in text


def test_bad_value_names_allowed_values(tmp_path):
    path = _write(tmp_path / "m.yaml", dict(MODEL, dtype="float8"))
    with pytest.raises(CardError) as err:
        loader.load_model_card(path)
    assert "dtype" in str(err.value) and "'bfloat16'" in str(err.value) and "float8" in str(err.value)


def test_negative_value_rejected(tmp_path):
    path = _write(tmp_path / "m.yaml", dict(MODEL, protocol={"generate": {"steps": -1}}))
    with pytest.raises(CardError, match=r"protocol.generate.steps"):
        loader.load_model_card(path)


def test_yaml_syntax_error_has_line(tmp_path):
    path = tmp_path / "m.yaml"
    path.write_text("name: m\nclass: [unclosed\n")
    with pytest.raises(CardError, match=r"line \d+"):
        loader.load_model_card(path)


def test_missing_required_key(tmp_path):
    path = _write(tmp_path / "t.yaml", {"name": "t", "class": "x:y"})
    with pytest.raises(CardError, match="missing required key 'capability'"):
        loader.load_task_card(path)


def test_cards_found_on_cards_path_and_did_you_mean(engine_cards):
    assert get_task_card("color_vqa").name == "color_vqa"
    assert get_model_card("pixel").source == engine_cards / "model_zoo" / "pixel.yaml"
    with pytest.raises(UnknownNameError) as err:
        get_task_card("colour_vqa")
    assert "did you mean 'color_vqa'" in str(err.value)


def test_card_by_path(engine_cards):
    assert get_task_card(str(engine_cards / "tasks" / "paint.yaml")).name == "paint"
    with pytest.raises(CardError, match="does not exist"):
        get_task_card("nowhere/x.yaml")


def test_entry_point_card_roots(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    _write(root / "model_zoo" / "lab-model.yaml", dict(MODEL, name="lab-model"))

    class EP:
        name, value = "lab", "lab_pkg:cards"

        def load(self):
            return lambda: [root]

    monkeypatch.setattr(metadata, "entry_points", lambda group: [EP()] if group == "ming_eval.cards" else [])
    monkeypatch.setattr(loader, "_INDEX", None)
    assert get_model_card("lab-model").name == "lab-model"


def test_builtin_root_prefers_packaged_cards(tmp_path, monkeypatch):
    assert loader.builtin_root() == loader.PACKAGE_DIR.parent  # a source checkout
    pkg = tmp_path / "ming_eval"
    (pkg / "_cards").mkdir(parents=True)
    monkeypatch.setattr(loader, "PACKAGE_DIR", pkg)
    assert loader.builtin_root() == pkg / "_cards"


def test_every_shipped_card_reads_as_pure_python_yaml_reads_it():
    root = loader.builtin_root()
    paths = sorted([*(root / "tasks").rglob("*.yaml"), *(root / "model_zoo").rglob("*.yaml")])
    assert len(paths) > 20
    for path in paths:
        assert loader.read_yaml(path) == yaml.safe_load(path.read_text(encoding="utf-8")), path


def test_a_yaml_error_names_the_card_and_its_line(tmp_path):
    card = tmp_path / "bad.yaml"
    card.write_text("name: x\nclass: [unclosed\n", encoding="utf-8")
    with pytest.raises(CardError, match=r"bad.yaml is not valid YAML \(line 3, column 1\)"):
        loader.read_yaml(card)


def test_the_card_index_reuses_unchanged_cards_parse_and_rereads_a_changed_card(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    card = _write(root / "model_zoo" / "lab-model.yaml", dict(MODEL, name="lab-model"))
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    assert get_model_card("lab-model").protocol.generate.steps == 30
    parsed: list[str] = []
    parse = yaml.load

    def counting_load(stream, Loader):
        parsed.append(stream)
        return parse(stream, Loader=Loader)

    monkeypatch.setattr(loader.yaml, "load", counting_load)
    loader.card_index(refresh=True)
    assert parsed == []  # a fresh index (as a new process builds) parses no card again
    _write(card, dict(MODEL, name="lab-model", protocol={"generate": {"steps": 7}}))
    assert loader.card_index(refresh=True).models["lab-model"].protocol.generate.steps == 7
    assert len(parsed) == 1


def test_a_card_value_json_cannot_hold_comes_from_the_yaml_each_time(tmp_path, monkeypatch):
    root = tmp_path / "lab"
    card = _write(root / "model_zoo" / "lab-model.yaml", dict(MODEL, name="lab-model"))
    card.write_text(card.read_text().replace("extra:\n", "extra:\n        released: 2025-01-27\n"))
    monkeypatch.setenv("MING_EVAL_CARDS_PATH", str(root))
    for _ in range(2):  # built, then built again as a new process would
        extra = loader.card_index(refresh=True).models["lab-model"].tasks["geneval"].generate.extra
        assert extra == {"a": 1, "released": datetime.date(2025, 1, 27)}
