"""Reading literals out of a Python source without running it, on made-up sources written here."""

import os

import pytest

from ming_eval.errors import DataError
from ming_eval.tasks.vlm.protocol_source import Placeholder, PythonSource, SourceShapeError, Template

ORIGIN = "https://example.invalid/repo/0123456789abcdef0123456789abcdef01234567/pkg/prompts.py"

SOURCE = '''"""A made-up module."""
import os

os.environ["NEVER_SET_BY_A_PARSE"] = "1"


def build(question, options, answer):
    """Docstrings are not literals of the prompt."""
    tmpl = (
        'Q: {}?\\n'
        'O: {}\\nA: {{braces}} {}\\n'
    )
    return tmpl.format(question, options, answer)


def numbered():
    tmpl = '{1} then {0}'
    return tmpl


def lines(item, row):
    s = 'head\\n'
    for key, value in item.items():
        s += f'{key} = {value}; {row["name"]} {row.shape}\\n'
    return s


def examples():
    first = """one"""
    second = f"two {first}"
    return [first, second, 'three']


def glued(line):
    question = line['question']
    text = 'intro' + '\\n'
    return text + question + ' | '.join([line['answer'], ''])
'''


@pytest.fixture()
def source(tmp_path):
    path = tmp_path / "prompts.py"
    path.write_text(SOURCE, encoding="utf-8")
    return PythonSource(path, ORIGIN)


def test_nothing_is_run(tmp_path, monkeypatch):
    monkeypatch.delenv("NEVER_SET_BY_A_PARSE", raising=False)
    path = tmp_path / "prompts.py"
    path.write_text(SOURCE, encoding="utf-8")
    source = PythonSource(path, ORIGIN)  # parsed after the variable is gone, so a run would show
    assert source.assigned_text("lines", "s") == "head\n"
    assert "NEVER_SET_BY_A_PARSE" not in os.environ


def test_format_template_gets_named_fields(source):
    t = source.format_template("build", "tmpl", ("question", "options", "answer"))
    assert t.fields == ("question", "options", "answer")
    assert t.render({"question": "q", "options": "o {x}", "answer": "a"}) == "Q: q?\nO: o {x}\nA: {braces} a\n"
    # the same as str.format, whose text it is
    assert t.render({"question": "q", "options": "o", "answer": "a"}) == "Q: {}?\nO: {}\nA: {{braces}} {}\n".format(
        "q", "o", "a"
    )
    numbered = source.format_template("numbered", "tmpl", ("x", "y"))
    assert numbered.render({"x": "1", "y": "2"}) == "2 then 1"


def test_fstring_fields_are_named_after_their_expressions(source):
    (line,) = source.unnamed("lines", 1)
    assert isinstance(line, Template)
    assert line.parts == (
        Placeholder("key"),
        " = ",
        Placeholder("value"),
        "; ",
        Placeholder("name"),
        " ",
        Placeholder("shape"),
        "\n",
    )
    assert source.assigned_text("lines", "s") == "head\n"


def test_returned_list_resolves_variables(source):
    first, second, third = source.returned_list("examples")
    assert first == "one" and third == "three"
    assert isinstance(second, Template) and second.render({"first": "1"}) == "two 1"


def test_unnamed_literals_in_source_order(source):
    # 'question' and 'answer' are subscript keys, text = ... is not a literal assignment
    assert source.unnamed("glued", 4) == ["intro", "\n", " | ", ""]


def test_template_render_needs_every_field():
    with pytest.raises(KeyError, match="b"):
        Template(("x", Placeholder("a"), Placeholder("b"))).render({"a": "1"})


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: s.function("missing"), "function missing(): not defined at module level"),
        (lambda s: s.assigned("build", "nothing"), "build(): nothing: no assignment"),
        (lambda s: s.assigned("glued", "text"), "glued(): text: expected a string literal, found BinOp"),
        (lambda s: s.assigned_text("examples", "second"), "examples(): second: expected a plain string"),
        (lambda s: s.format_template("build", "tmpl", ("q", "o")), "format field 2 beyond the 2 expected"),
        (lambda s: s.format_template("build", "tmpl", ("q", "o", "a", "extra")), "fill 3 of the 4 expected"),
        (lambda s: s.returned_list("glued"), "glued(): return: expected a single `return [...]`"),
        (lambda s: s.unnamed("glued", 3), "glued(): expected 3 unnamed string literals, found 4"),
    ],
)
def test_shape_errors_name_file_origin_and_symbol(source, call, message):
    with pytest.raises(SourceShapeError) as err:
        call(source)
    text = str(err.value)
    assert message in text and "prompts.py" in text and ORIGIN in text
    assert isinstance(err.value, DataError)


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("def f():\n    tmpl = '{name}'\n", "format field {name} is not positional"),
        ("def f():\n    tmpl = '{0!r}'\n", "has a conversion or format spec"),
        ("def f():\n    tmpl = '{0:>4}'\n", "has a conversion or format spec"),
        ("def f():\n    tmpl = '{0'\n", "not a valid format string"),
        ("def f():\n    tmpl = 'a'\n    tmpl = 'b'\n", "f(): tmpl: assigned 2 times"),
        ("def f():\n    pass\n\n\ndef f():\n    pass\n", "function f(): defined 2 times"),
    ],
)
def test_format_template_shapes(tmp_path, body, message):
    path = tmp_path / "odd.py"
    path.write_text(body)
    with pytest.raises(
        SourceShapeError, match=message.replace("(", r"\(").replace(")", r"\)").replace("{", r"\{").replace("}", r"\}")
    ):
        PythonSource(path, ORIGIN).format_template("f", "tmpl", ("x",))


def test_fstring_with_conversion_is_refused(tmp_path):
    path = tmp_path / "odd.py"
    path.write_text("def f(x):\n    s = ''\n    s += f'{x!r}'\n    return s\n")
    with pytest.raises(SourceShapeError, match="f-string field with a conversion or format spec"):
        PythonSource(path, ORIGIN).unnamed("f", 1)


def test_unparsable_file(tmp_path):
    path = tmp_path / "broken.py"
    path.write_text("def f(:\n")
    with pytest.raises(DataError, match=r"cannot parse .*broken.py .* as Python"):
        PythonSource(path, ORIGIN)
    path.write_bytes(b"\xff\xfe not utf-8")
    with pytest.raises(DataError, match="cannot parse"):
        PythonSource(path, ORIGIN)
