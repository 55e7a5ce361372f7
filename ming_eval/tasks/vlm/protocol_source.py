"""Text read out of pinned protocol source files, without running them.

Some protocol text lives only in another project's source code: VLMEvalKit's judge prompts are string
literals inside its Python functions. ming-eval does not carry that text. A task card pins the source
file like any data file (URL at a commit, sha256), and :class:`PythonSource` reads literals out of the
verified file with :mod:`ast`: the file is parsed, never imported or executed.

What can be read, always by name and always checked:

* the string assigned to a module-level variable (``_context = "..."``);
* the string assigned to a variable inside a function (``tmpl = ("..." "...")``), as plain text or as a
  :class:`Template` (a ``str.format`` template with its fields named by the caller, or an f-string);
* the list a function returns, each element a string or a variable holding one;
* the unnamed string literals of a function in source order (neither assigned to a variable nor used as
  a subscript key such as ``line['question']``), counted exactly.

Anything of another shape (a missing function, two assignments, a format field with a conversion, a
different count) raises :class:`SourceShapeError` naming the file, where it comes from and the symbol.
"""

from __future__ import annotations

import ast
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ming_eval.errors import DataError


class SourceShapeError(DataError):
    """A pinned source file that does not hold the expected literal where it should."""


@dataclass(frozen=True)
class Placeholder:
    """A field of a :class:`Template`, filled by name."""

    name: str


@dataclass(frozen=True)
class Template:
    """Literal text with named fields: constant parts are kept verbatim, fields are filled as given."""

    parts: tuple[str | Placeholder, ...]

    @property
    def fields(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.parts if isinstance(p, Placeholder))

    def render(self, values: Mapping[str, str]) -> str:
        missing = [name for name in self.fields if name not in values]
        if missing:
            raise KeyError(f"template fields without a value: {', '.join(missing)}")
        return "".join(p if isinstance(p, str) else values[p.name] for p in self.parts)


Literal = str | Template


def _placeholder_name(node: ast.expr) -> str:
    """The name an f-string placeholder gets: ``{x}`` -> x, ``{line['x']}`` -> x, ``{a.b}`` -> b."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) and isinstance(node.slice.value, str):
        return node.slice.value
    if isinstance(node, ast.Attribute):
        return node.attr
    return ast.unparse(node)


def _is_text(node: ast.AST) -> bool:
    return (isinstance(node, ast.Constant) and isinstance(node.value, str)) or isinstance(node, ast.JoinedStr)


class PythonSource:
    """One Python source file, parsed (not run), from which literals are read by name.

    Args:
        path: the verified local copy.
        origin: where it comes from, for error messages (e.g. the pinned URL, which names the commit).
    """

    def __init__(self, path: Path, origin: str) -> None:
        self.path = path
        self.origin = origin
        try:
            text = path.read_text(encoding="utf-8")
            self.tree = ast.parse(text, filename=str(path))
        except (OSError, UnicodeDecodeError, SyntaxError, ValueError) as exc:
            raise DataError(
                f"cannot parse {path} ({origin}) as Python: {exc}",
                hint="the file is damaged; delete it and fetch it again",
            ) from exc

    # -- errors ------------------------------------------------------------------------------------
    def error(self, symbol: str, problem: str) -> SourceShapeError:
        return SourceShapeError(
            f"{self.path.name} ({self.origin}, read from {self.path}): {symbol}: {problem}",
            hint="this is not the source file ming-eval pins (its checksum is checked, so a changed card or an "
            "override is the likely cause); use the card's file",
        )

    # -- lookups -----------------------------------------------------------------------------------
    def function(self, name: str) -> ast.FunctionDef:
        """The module-level function ``name`` (exactly one definition)."""
        found = [n for n in self.tree.body if isinstance(n, ast.FunctionDef) and n.name == name]
        if len(found) != 1:
            raise self.error(
                f"function {name}()", "not defined at module level" if not found else f"defined {len(found)} times"
            )
        return found[0]

    def _literal(self, node: ast.expr, symbol: str) -> Literal:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.JoinedStr):
            return self._fstring(node, symbol)
        raise self.error(symbol, f"expected a string literal, found {type(node).__name__} `{ast.unparse(node)[:80]}`")

    def _fstring(self, node: ast.JoinedStr, symbol: str) -> Template:
        parts: list[str | Placeholder] = []
        for value in node.values:
            if isinstance(value, ast.Constant) and isinstance(value.value, str):
                parts.append(value.value)
            elif isinstance(value, ast.FormattedValue) and value.conversion == -1 and value.format_spec is None:
                parts.append(Placeholder(_placeholder_name(value.value)))
            else:
                raise self.error(symbol, f"f-string field with a conversion or format spec: `{ast.unparse(value)}`")
        return Template(tuple(parts))

    def _assignments(self, scope: ast.AST, variable: str) -> list[ast.Assign]:
        return [
            n
            for n in ast.walk(scope)
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and n.targets[0].id == variable
        ]

    def module_text(self, variable: str) -> str:
        """The plain string literal assigned to the module-level ``variable`` (exactly one assignment)."""
        symbol = f"module variable {variable}"
        found = [
            n
            for n in self.tree.body
            if isinstance(n, ast.Assign)
            and len(n.targets) == 1
            and isinstance(n.targets[0], ast.Name)
            and n.targets[0].id == variable
        ]
        if len(found) != 1:
            raise self.error(symbol, "no assignment" if not found else f"assigned {len(found)} times")
        value = self._literal(found[0].value, symbol)
        if not isinstance(value, str):
            raise self.error(symbol, "expected a plain string, found an f-string")
        return value

    def assigned(self, function: str, variable: str) -> Literal:
        """The string literal assigned to ``variable`` in ``function`` (exactly one assignment)."""
        symbol = f"{function}(): {variable}"
        found = self._assignments(self.function(function), variable)
        if len(found) != 1:
            raise self.error(symbol, "no assignment" if not found else f"assigned {len(found)} times")
        return self._literal(found[0].value, symbol)

    def assigned_text(self, function: str, variable: str) -> str:
        """Like :meth:`assigned`, for a plain string (not an f-string)."""
        value = self.assigned(function, variable)
        if not isinstance(value, str):
            raise self.error(f"{function}(): {variable}", "expected a plain string, found an f-string")
        return value

    def format_template(self, function: str, variable: str, fields: Sequence[str]) -> Template:
        """The ``str.format`` template assigned to ``variable`` in ``function``; its positional fields
        (``{}`` or ``{0}``, ``{1}``, ...) get the given names, in argument order."""
        symbol = f"{function}(): {variable}"
        text = self.assigned_text(function, variable)
        parts: list[str | Placeholder] = []
        auto = 0
        try:
            parsed = list(string.Formatter().parse(text))
        except ValueError as exc:
            raise self.error(symbol, f"not a valid format string: {exc}") from exc
        for literal, field, spec, conversion in parsed:
            if literal:
                parts.append(literal)
            if field is None:
                continue
            if spec or conversion:
                raise self.error(symbol, f"format field {{{field}}} has a conversion or format spec")
            if field == "":
                position, auto = auto, auto + 1
            elif field.isdigit():
                position = int(field)
            else:
                raise self.error(symbol, f"format field {{{field}}} is not positional")
            if position >= len(fields):
                raise self.error(
                    symbol, f"format field {position} beyond the {len(fields)} expected ({', '.join(fields)})"
                )
            parts.append(Placeholder(fields[position]))
        template = Template(tuple(parts))
        if sorted(set(template.fields)) != sorted(fields):
            raise self.error(
                symbol,
                f"format fields fill {len(set(template.fields))} of the {len(fields)} "
                f"expected values ({', '.join(fields)})",
            )
        return template

    def returned_list(self, function: str) -> list[Literal]:
        """The strings of ``return [a, b, ...]`` in ``function``: literals, or variables assigned one."""
        fn = self.function(function)
        returns = [n for n in ast.walk(fn) if isinstance(n, ast.Return)]
        symbol = f"{function}(): return"
        if len(returns) != 1 or not isinstance(returns[0].value, ast.List):
            raise self.error(symbol, "expected a single `return [...]`")
        out: list[Literal] = []
        for element in returns[0].value.elts:
            if isinstance(element, ast.Name):
                out.append(self.assigned(function, element.id))
            else:
                out.append(self._literal(element, symbol))
        if not out:
            raise self.error(symbol, "returns an empty list")
        return out

    def unnamed(self, function: str, count: int | None) -> list[Literal]:
        """The string literals of ``function`` that are neither assigned to a variable nor subscript keys,
        in source order; there must be exactly ``count`` (callers pick them by position), or any number
        for None (callers pick them by shape)."""
        fn = self.function(function)
        skip: set[int] = set()
        if fn.body and isinstance(fn.body[0], ast.Expr) and _is_text(fn.body[0].value):
            skip.add(id(fn.body[0].value))  # the docstring
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                skip.add(id(node.value))
            elif isinstance(node, ast.Subscript):
                skip.add(id(node.slice))
            elif isinstance(node, ast.JoinedStr):
                skip.update(id(v) for v in node.values)
                skip.update(
                    id(v.format_spec)
                    for v in node.values
                    if isinstance(v, ast.FormattedValue) and v.format_spec is not None
                )
        nodes = [n for n in ast.walk(fn) if isinstance(n, ast.expr) and _is_text(n) and id(n) not in skip]
        nodes.sort(key=lambda n: (n.lineno, n.col_offset))
        if count is not None and len(nodes) != count:
            raise self.error(f"{function}()", f"expected {count} unnamed string literals, found {len(nodes)}")
        return [self._literal(n, f"{function}(): literal {i + 1}") for i, n in enumerate(nodes)]
