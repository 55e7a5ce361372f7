"""``score TASK --images DIR --out RUN`` into a run made by another model or from another folder is
refused unless --force, instead of attributing the run's results to the imported outputs."""

import json
import shutil

from ming_eval.runner.evaluate import evaluate
from tests.cli.test_cli import run_cli
from tests.tasks.geneval.test_e2e import cards, config, injected  # noqa: F401 (fixtures)


def test_images_into_a_run_of_another_model(tmp_path, cards, injected, capsys):  # noqa: F811 (fixtures)
    evaluate(config(tmp_path, cards))
    run = tmp_path / "run"
    images = tmp_path / "outputs"
    shutil.copytree(run / "geneval" / "images", images)
    opts = ["-o", "geneval.prompt_set=custom", "-o", f"geneval.prompts_file={cards}"]
    before = (run / "results.json").read_text()
    code, text = run_cli(["score", "geneval", "--images", str(images), "--out", str(run), *opts], capsys)
    assert code == 2
    assert "holds results of model shapes" in text and "not of external:outputs (from" in text and "--force" in text
    assert (run / "results.json").read_text() == before
    assert json.loads((run / "manifest.json").read_text())["model"]["card"]["name"] == "shapes"

    # a run of its own takes the folder, and importing it again is no change of model
    ext = tmp_path / "ext"
    for _ in range(2):
        code, text = run_cli(["score", "geneval", "--images", str(images), "--out", str(ext), *opts], capsys)
        assert code == 0, text
    # another folder of the same name is another source
    other = tmp_path / "elsewhere" / "outputs"
    shutil.copytree(images, other)
    code, text = run_cli(["score", "geneval", "--images", str(other), "--out", str(ext), *opts], capsys)
    assert code == 2 and f"from {other}" in text

    code, text = run_cli(["score", "geneval", "--images", str(images), "--out", str(run), "--force", *opts], capsys)
    assert code == 0, text
    manifest = json.loads((run / "manifest.json").read_text())
    assert manifest["model"]["source"] == str(images.resolve())
    (forced,) = manifest["invocations"][-1]["forced_differences"]
    assert forced.startswith("model: shapes") and forced.endswith(f" -> external:outputs (from {images.resolve()})")


def test_images_given_as_a_relative_path(tmp_path, cards, injected, capsys, monkeypatch):  # noqa: F811 (fixtures)
    """The docs show ``--images outputs/``: a path relative to the working directory scores like an absolute one."""
    evaluate(config(tmp_path, cards))
    shutil.copytree(tmp_path / "run" / "geneval" / "images", tmp_path / "outputs")
    monkeypatch.chdir(tmp_path)
    opts = ["-o", "geneval.prompt_set=custom", "-o", f"geneval.prompts_file={cards}"]
    code, text = run_cli(["score", "geneval", "--images", "outputs", "--out", "ext", *opts], capsys)
    assert code == 0, text
    assert "imported" in text
    relative = json.loads((tmp_path / "ext" / "results.json").read_text())
    absolute = json.loads((tmp_path / "run" / "results.json").read_text())
    assert relative["tasks"]["geneval"]["metrics"] == absolute["tasks"]["geneval"]["metrics"]
