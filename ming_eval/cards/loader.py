"""Finding and loading cards, with errors that name the card, the key and what is allowed.

Cards are searched in this order (the first card of a name wins):

1. the folders in ``$MING_EVAL_CARDS_PATH`` (``os.pathsep``-separated), each holding ``tasks/``
   and/or ``model_zoo/``;
2. folders contributed by installed packages through the ``ming_eval.cards`` entry-point group
   (the entry point names a module, whose folder is used, or a callable returning folders);
3. the cards shipped with ming-eval: ``ming_eval/_cards/`` inside a wheel, or the top-level
   ``tasks/`` and ``model_zoo/`` of a source checkout.
"""

from __future__ import annotations

import difflib
import json
import os
import types
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from ming_eval.cards.schema import ModelCard, SuiteCard, TaskCard
from ming_eval.errors import CardError

CARDS_PATH_ENV = "MING_EVAL_CARDS_PATH"
CARDS_ENTRY_POINT_GROUP = "ming_eval.cards"
PACKAGE_DIR = Path(__file__).resolve().parents[1]

M = TypeVar("M", bound=BaseModel)


def builtin_root() -> Path:
    """Where ming-eval's own cards are: inside the wheel, or the source checkout's top level."""
    packaged = PACKAGE_DIR / "_cards"
    if packaged.is_dir():
        return packaged
    return PACKAGE_DIR.parent


def _entry_point_roots() -> list[Path]:
    from ming_eval import installed

    roots: list[Path] = []
    for ep in installed.entry_points(CARDS_ENTRY_POINT_GROUP):
        try:
            obj = ep.load()
        except Exception as exc:
            raise CardError(
                f"entry point {ep.name!r} in group {CARDS_ENTRY_POINT_GROUP} ({ep.value}) failed to load: {exc}",
                hint="fix or uninstall the package that declares it",
            ) from exc
        if isinstance(obj, types.ModuleType):
            if obj.__file__ is None:
                continue
            roots.append(Path(obj.__file__).resolve().parent)
        elif callable(obj):
            result = obj()
            roots.extend(Path(p) for p in ([result] if isinstance(result, (str, Path)) else result))
        else:
            roots.append(Path(str(obj)))
    return roots


def card_roots(entry_point_roots: list[Path] | None = None) -> list[Path]:
    """``$MING_EVAL_CARDS_PATH``, then installed packages' cards (``entry_point_roots`` if already
    looked up), then the built-in cards."""
    roots = [Path(p) for p in os.environ.get(CARDS_PATH_ENV, "").split(os.pathsep) if p]
    roots.extend(_entry_point_roots() if entry_point_roots is None else entry_point_roots)
    roots.append(builtin_root())
    return roots


def _format_loc(loc: Iterable[Any]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """The keys a nested model accepts at ``loc`` (the path of an unknown key, without the key)."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            # a dict value (e.g. tasks.<name>): step into the dict's value type
            return None
        current = _model_in_annotation(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return [f.alias or name for name, f in current.model_fields.items()]
    return None


def _model_in_annotation(annotation: Any) -> Any:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()) or ():
        found = _model_in_annotation(arg)
        if found is not None:
            return found
    return None


def _strip_dict_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the user-chosen dict keys (task names) from a loc so the schema can be walked."""
    out: list[Any] = []
    current: Any = model
    i = 0
    while i < len(loc):
        part = loc[i]
        out.append(part)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                break
            annotation = field.annotation
            origin = getattr(annotation, "__origin__", None)
            if origin is dict and i + 1 < len(loc):
                i += 1  # skip the dict key
            current = _model_in_annotation(annotation)
        i += 1
    return tuple(out)


def validation_problems(exc: ValidationError, model: type[BaseModel], prefix: tuple[str, ...] = ()) -> list[str]:
    """One line per problem: the key path, what is wrong, and what is allowed there.

    ``prefix`` is where ``model`` sits inside the card (``("options",)`` for a class's options).
    """
    lines: list[str] = []
    for err in exc.errors():
        loc = tuple(err.get("loc", ()))
        path = _format_loc(prefix + loc) or "(top level)"
        if err["type"] == "extra_forbidden":
            allowed = _allowed_keys(model, _strip_dict_keys(model, loc[:-1]))
            close = difflib.get_close_matches(str(loc[-1]), allowed or [], n=1, cutoff=0.6) if loc else []
            guess = f" (did you mean {close[0]!r}?)" if close else ""
            if allowed is None:
                allowed_text = ""
            else:
                allowed_text = f"; allowed keys: {', '.join(sorted(allowed))}" if allowed else "; it takes no keys"
            lines.append(f"unknown key {path!r}{guess}{allowed_text}")
        elif err["type"] == "missing":
            lines.append(f"missing required key {path!r}")
        else:
            value = err.get("input")
            shown = repr(value) if not isinstance(value, dict) else "{...}"
            if len(shown) > 80:
                shown = shown[:77] + "..."
            lines.append(f"{path}: {err['msg']} (got {shown})")
    return lines


def format_validation_error(
    where: str, exc: ValidationError, model: type[BaseModel], prefix: tuple[str, ...] = ()
) -> str:
    """``where is invalid:`` and one indented line per problem (:func:`validation_problems`)."""
    return "\n".join([f"{where} is invalid:", *(f"  - {p}" for p in validation_problems(exc, model, prefix))])


def validate(model: type[M], data: Any, where: str, prefix: tuple[str, ...] = ()) -> M:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise CardError(format_validation_error(where, exc, model, prefix)) from None


#: ``yaml.safe_load``'s loader with libyaml's parser where PyYAML has it (ten times faster; the same
#: constructors and resolvers, so the same values: every card is read at each start)
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


#: while the card index is built: card path -> [size, mtime_ns, inode, parsed YAML], as parsed by the
#: last build (kept in the cache as JSON, several times faster to load than every card's YAML) and by
#: this one
_PARSED: tuple[dict[str, Any], dict[str, list[Any]]] | None = None
PARSED_CACHE = "cards.json"


def read_yaml(path: Path) -> dict[str, Any]:
    try:
        if _PARSED is not None:
            st = path.stat()
            stamp = [st.st_size, st.st_mtime_ns, st.st_ino]
            hit = _PARSED[0].get(str(path))
            if isinstance(hit, list) and len(hit) == 4 and hit[:3] == stamp and isinstance(hit[3], dict):
                _PARSED[1][str(path)] = hit
                data: dict[str, Any] = hit[3]
                return data
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise CardError(f"cannot read card {path}: {exc}") from exc
    try:
        data = yaml.load(text, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" (line {mark.line + 1}, column {mark.column + 1})" if mark is not None else ""
        raise CardError(f"card {path} is not valid YAML{at}: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(data, dict):
        raise CardError(f"card {path} must be a YAML mapping, got {type(data).__name__}")
    if _PARSED is not None:
        try:  # only what JSON gives back unchanged (not a date, a set or a non-string key)
            copy = json.loads(json.dumps(data))
        except (TypeError, ValueError):
            copy = None
        if copy == data:
            _PARSED[1][str(path)] = [*stamp, copy]
    return data


def _scan_all(roots: list[Path], found: dict[str, TaskCard | SuiteCard], models: dict[str, ModelCard]) -> None:
    """Every card under ``roots``, each card file parsed as its last parse in the cache when the file
    is unchanged (same size, modification time and inode)."""
    global _PARSED
    from ming_eval.data.files import cache_root

    cache = cache_root() / PARSED_CACHE
    try:
        before = json.loads(cache.read_text(encoding="utf-8"))
        if not isinstance(before, dict):
            before = {}
    except (OSError, ValueError):
        before = {}
    parsed: dict[str, list[Any]] = {}
    _PARSED = (before, parsed)
    try:
        for root in roots:
            _scan(root / "tasks", load_tasks_folder_card, found)
            _scan(root / "model_zoo", load_model_card, models)
    finally:
        _PARSED = None
    if parsed != before:
        from ming_eval.store.jsonl import write_cache_json  # only when the cache changed

        write_cache_json(cache, parsed)  # a read-only cache: the next start parses the cards again


def load_task_card(path: Path) -> TaskCard:
    card = validate(TaskCard, read_yaml(path), f"task card {path}")
    card._source = path
    return card


def load_tasks_folder_card(path: Path) -> TaskCard | SuiteCard:
    """A card under ``tasks/``: a suite when it lists ``tasks`` and names no ``class``."""
    data = read_yaml(path)
    if "tasks" in data and "class" not in data:
        suite = validate(SuiteCard, data, f"suite card {path}")
        suite._source = path
        return suite
    card = validate(TaskCard, data, f"task card {path}")
    card._source = path
    return card


def load_model_card(path: Path) -> ModelCard:
    card = validate(ModelCard, read_yaml(path), f"model card {path}")
    card._source = path
    return card


@dataclass(frozen=True)
class CardIndex:
    tasks: dict[str, TaskCard]
    models: dict[str, ModelCard]
    suites: dict[str, SuiteCard]


def _scan(folder: Path, loader: Callable[[Path], Any], into: dict[str, Any]) -> None:
    if not folder.is_dir():
        return
    for path in sorted(folder.rglob("*.yaml")):
        if path.name.startswith("_"):
            continue  # shared fragments, not cards
        card = loader(path)
        into.setdefault(card.name, card)


_INDEX: CardIndex | None = None
_INDEX_KEY: tuple[str, ...] | None = None
#: the installed packages' card roots the index was built with: scanning every installed
#: distribution's entry points is done once per index, not on every card lookup
_ENTRY_POINT_ROOTS: list[Path] | None = None


def card_index(refresh: bool = False) -> CardIndex:
    """All cards from all roots, loaded once per process (re-read when ``$MING_EVAL_CARDS_PATH``
    changes, or with ``refresh``)."""
    global _INDEX, _INDEX_KEY, _ENTRY_POINT_ROOTS
    if _INDEX is None or refresh or _ENTRY_POINT_ROOTS is None:
        _ENTRY_POINT_ROOTS = _entry_point_roots()
    roots = card_roots(_ENTRY_POINT_ROOTS)
    key = tuple(str(r) for r in roots)
    if _INDEX is None or refresh or key != _INDEX_KEY:
        found: dict[str, TaskCard | SuiteCard] = {}
        models: dict[str, ModelCard] = {}
        _scan_all(roots, found, models)
        tasks = {n: c for n, c in found.items() if isinstance(c, TaskCard)}
        suites = {n: c for n, c in found.items() if isinstance(c, SuiteCard)}
        _INDEX, _INDEX_KEY = CardIndex(tasks, models, suites), key
    return _INDEX
