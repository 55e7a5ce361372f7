"""Credentials never reach a file or a terminal.

Everything ming-eval writes or prints that may hold what a user typed or what a server answered (the
manifest, stored reasons and errors, result notes, CLI messages) passes through here. Three layers,
each catching what the others cannot see:

* **by key**: in a mapping, the values under keys that name a secret (``api_key``, ``token``,
  ``password``, ``Authorization``, ``x-api-key``, ...) and every value of a header mapping
  (``headers``, ``extra_headers``, ``default_headers``);
* **by shape**: a URL loses its user info (``http://user:pass@host`` -> ``http://<redacted>@host``)
  and the values of its secret query parameters (``api_key``, ``token``, ``key``, ``sig``, ...);
  ``name=value`` / ``name: value`` fragments with a secret name, ``Bearer ...`` / ``Basic ...``
  credentials and strings shaped like API keys (``sk-...``, ``hf_...``) are cut from text;
* **by value**: the values of environment variables that hold secrets (named like ``OPENAI_API_KEY``
  or ``HF_TOKEN``, or named by an ``*_api_key_env`` option of a configuration redacted earlier in the
  process) are removed wherever they appear, whatever their shape.

The key rule is deliberately narrow: ``max_new_tokens`` or ``image_token`` are settings, not
secrets, and the manifest's settings are read back when a run is re-scored.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from typing import Any

REDACTED = "<redacted>"

_SECRET_STEM = (
    r"api[_\-]?key|apikey|secrets?|password|passwd|authorization|credentials?|private[_\-]?key|"
    r"subscription[_\-]?key|cookie"
)
_TOKEN = r"(?:(?:access|auth|hf|bearer|api|refresh|session|id)[_\-]?)?token"

#: mapping keys (and option names) whose values are secrets
SECRET_KEY = re.compile(rf"^(.*[_\-])?({_SECRET_STEM})$|^{_TOKEN}$", re.I)
#: mapping keys whose values are all HTTP headers: every value is hidden, the header names are kept
HEADERS_KEY = re.compile(r"^(.*[_\-])?headers$", re.I)
#: options that name the environment variable holding a secret (``api_key_env``, ``judge_api_key_env``)
SECRET_ENV_OPTION = re.compile(rf"^(.*[_\-])?({_SECRET_STEM}|{_TOKEN})[_\-]env$", re.I)
#: environment variables whose values are secrets
SECRET_ENV_NAME = re.compile(r"(^|_)(KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIALS?)$", re.I)
#: URL query parameters whose values are secrets, besides those :data:`SECRET_KEY` names
SECRET_QUERY = re.compile(
    r"^(key|sig|signature|code|auth|session|jwt|x-(amz|goog)-(signature|credential|security-token))$", re.I
)
#: strings shaped like credentials, wherever they stand (``Basic ...`` only after a header name, in
#: ``_TEXT_ASSIGNMENT``: "Basic Attribute Recognition" is a benchmark category)
SECRET_VALUE = re.compile(r"sk-[A-Za-z0-9_\-]{8,}|hf_[A-Za-z0-9]{10,}|\bBearer\s+[A-Za-z0-9+/=._~\-]{4,}")
# a URL ends before whitespace, quotes and brackets, and before the punctuation of the sentence around it
_URL = re.compile(r"\b([a-z][a-z0-9+.\-]*://)([^\s/?#@'\"<>]*@)?((?:[^\s'\"<>]*[^\s'\"<>.,:;!?)\]}])?)", re.I)
_QUERY_PARAM = re.compile(r"([?&;])([^=&;#\s]+)=([^&;#\s]*)")
# ``api_key=...``, ``"password": "..."``, ``x-api-key: ...`` in free text; the name is a whole word
_TEXT_ASSIGNMENT = re.compile(
    rf"(?<![\w\-])((?:[\w.\-]*[_.\-])?(?:{_SECRET_STEM})|{_TOKEN})(?![\w\-])"
    r"([\"']?\s*[:=]\s*[\"']?)(?!<redacted>)((?:(?:Bearer|Basic|Token)\s+)?[^\s\"',&;}<>]+)",
    re.I,
)
#: environment values shorter than this are not hunted in text (they would match ordinary words)
MIN_SECRET_LENGTH = 6
#: key values local servers accept that are no secret
PLACEHOLDER_KEYS = frozenset({"EMPTY", "none", "null", "dummy"})

_remembered_env: set[str] = set()


def remember_secret_env(name: str) -> None:
    """From now on, the value of the environment variable ``name`` is a secret, whatever its name."""
    _remembered_env.add(name)


_secrets_cache: tuple[object, list[str]] | None = None


def _environ_key() -> object:
    """What :func:`known_secrets` depends on, cheaply: the environment's raw items (read in C, not
    decoded one by one) and the names remembered as secret."""
    data = getattr(os.environ, "_data", None)  # CPython's raw mapping behind os.environ
    items = tuple(data.items()) if isinstance(data, dict) else tuple(os.environ.items())
    return items, frozenset(_remembered_env)


def known_secrets() -> list[str]:
    """The secret values of the environment, longest first (so a key is cut whole); recomputed only
    when the environment or the remembered names change."""
    global _secrets_cache
    key = _environ_key()
    if _secrets_cache is not None and _secrets_cache[0] == key:
        return _secrets_cache[1]
    values = {
        value
        for name, value in os.environ.items()
        if (SECRET_ENV_NAME.search(name) or name in _remembered_env)
        and len(value) >= MIN_SECRET_LENGTH
        and value not in PLACEHOLDER_KEYS
    }
    secrets = sorted(values, key=len, reverse=True)
    _secrets_cache = (key, secrets)
    return secrets


def redact_url(url: str) -> str:
    """``url`` without its user info and the values of its secret query parameters."""
    return _URL.sub(_redact_url_match, url)


def _redact_url_match(match: re.Match[str]) -> str:
    scheme, userinfo, rest = match.groups()
    rest = _QUERY_PARAM.sub(_redact_query_param, rest)
    return scheme + (f"{REDACTED}@" if userinfo else "") + rest


def _redact_query_param(match: re.Match[str]) -> str:
    sep, name, value = match.groups()
    if value and (SECRET_KEY.search(name) or SECRET_QUERY.search(name)):
        return f"{sep}{name}={REDACTED}"
    return match.group(0)


def redact_text(text: str) -> str:
    """``text`` with every credential it holds replaced by ``<redacted>``."""
    return _redact_text(text, known_secrets())


def _redact_text(text: str, secrets: list[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, REDACTED)
    text = redact_url(text)
    text = SECRET_VALUE.sub(REDACTED, text)
    return _TEXT_ASSIGNMENT.sub(lambda m: f"{m.group(1)}{m.group(2)}{REDACTED}", text)


def redact(obj: Any) -> Any:
    """A copy of ``obj`` (JSON-like) with secrets removed by key, by shape and by value.

    Options that name the environment variable of a secret (``api_key_env: MY_KEY``) are kept, and
    teach the redactor that the variable's value is a secret (see :func:`remember_secret_env`).
    """
    _remember_env_options(obj)
    return _redact(obj, known_secrets())  # the environment is read once per call, not per string


def _remember_env_options(obj: Any) -> None:
    if isinstance(obj, dict):
        for key, value in obj.items():
            if isinstance(key, str) and isinstance(value, str) and value and SECRET_ENV_OPTION.search(key):
                remember_secret_env(value)
            _remember_env_options(value)
    elif isinstance(obj, (list, tuple)):
        for value in obj:
            _remember_env_options(value)


def _redact(obj: Any, secrets: list[str]) -> Any:
    if isinstance(obj, dict):
        out: dict[Any, Any] = {}
        for key, value in obj.items():
            if isinstance(key, str) and value not in (None, ""):
                if SECRET_KEY.search(key):
                    out[key] = REDACTED
                    continue
                if HEADERS_KEY.search(key) and isinstance(value, dict):
                    out[key] = {name: REDACTED for name in value}
                    continue
            out[key] = _redact(value, secrets)
        return out
    if isinstance(obj, (list, tuple)):
        return [_redact(v, secrets) for v in obj]
    if isinstance(obj, str):
        return _redact_text(obj, secrets)
    return obj


def redact_argv(argv: Iterable[str]) -> list[str]:
    """A command line without secrets: the value after ``--api-key`` (or any option with a secret
    name) and every credential inside an argument."""
    out: list[str] = []
    hide_next = False
    for arg in argv:
        if hide_next:
            out.append(REDACTED)
            hide_next = False
            continue
        flag, eq, _ = arg.partition("=")
        if flag.startswith("-") and SECRET_KEY.search(flag.lstrip("-")):
            if eq:
                out.append(f"{flag}={REDACTED}")
            else:
                out.append(arg)
                hide_next = True
            continue
        out.append(redact_text(arg))
    return out


def contains_redacted(obj: Any) -> bool:
    """Whether ``obj`` (JSON-like) holds a value that was redacted (and so cannot be used again)."""
    if isinstance(obj, dict):
        return any(contains_redacted(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return any(contains_redacted(v) for v in obj)
    return isinstance(obj, str) and REDACTED in obj
