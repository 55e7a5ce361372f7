"""One directory per run.

::

    <run>/manifest.json                      configuration + invocations (see manifest.py)
    <run>/results.json                       every task's results and the suite summaries over them
    <run>/<task>/records/rank-00000.jsonl    inference records, append-only, one file per rank
    <run>/<task>/images/...                  generated images (GenEval's layout for GenEval)
    <run>/<task>/predictions.jsonl           merged records, in sample order
    <run>/<task>/scoring/config.json         what the scores depend on (fingerprint)
    <run>/<task>/scoring/rank-00000.jsonl    per-sample scores, append-only, one file per rank
    <run>/<task>/scores.jsonl                merged scores, in sample order
    <run>/<task>/results.json                metrics with confidence intervals

Records are never rewritten in place: merges write new files atomically, and scores made under an
older scoring configuration are moved aside (``scoring.<timestamp>/``), not deleted.

What a model, a scorer or a server said about a failure (``Prediction.error``, ``SampleScore.reason``
and ``details``, result notes) is redacted here, on its way to disk, whoever produced it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence, Set
from pathlib import Path
from typing import Any, NamedTuple, TypeVar

from pydantic import ValidationError

from ming_eval.cards.loader import validation_problems
from ming_eval.core.results import RETRY_STATUSES, Prediction, SampleScore, Status, TaskResult, status_text
from ming_eval.core.sample import Sample
from ming_eval.core.summaries import Summary
from ming_eval.errors import RunStoreError
from ming_eval.redaction import redact, redact_text
from ming_eval.store.jsonl import (
    AppendedReader,
    JsonlWriter,
    dumps,
    loads,
    read_jsonl,
    write_json_atomic,
    write_text_atomic,
)
from ming_eval.store.manifest import FORMAT, RunManifest

T = TypeVar("T")
R = TypeVar("R")

MANIFEST = "manifest.json"
RESULTS = "results.json"


def _rank_file(folder: Path, rank: int) -> Path:
    return folder / f"rank-{rank:05d}.jsonl"


class RecordWriter(JsonlWriter):
    """Inference records; an error message loses any credential it quotes (an endpoint's URL)."""

    def __init__(self, path: Path, images_root: Path, on_close: Callable[[list[Any]], None] | None = None) -> None:
        super().__init__(path, on_close)
        self.images_root = images_root

    def write(self, record: Any, *, flush: bool = True) -> None:
        if isinstance(record, dict) and record.get("error"):
            record = {**record, "error": redact_text(str(record["error"]))}
        super().write(record, flush=flush)

    def write_prediction(self, pred: Prediction, *, flush: bool = True) -> None:
        """Write ``pred``'s record, encoded once; what is kept for the run is the prediction that
        reading the line back gives (``pred`` itself, when JSON gives back exactly its values)."""
        pred, line = self._kept(pred)
        self.write_lines([line], ([pred], [line]), flush=flush)

    def write_answers(
        self, ids: Sequence[str], seeds: Sequence[int], texts: Sequence[str], elapsed_s: float | None
    ) -> None:
        """The records of a batch of text answers with status ok (a sample id, seed and text each, and
        the batch's time per sample), in one write that reaches the OS at once."""
        root, ok = self.images_root, Status.OK
        preds = [
            Prediction(sid, ok, text, None, seed, elapsed_s, root)
            for sid, seed, text in zip(ids, seeds, texts, strict=True)
        ]
        if (
            (elapsed_s is None or (type(elapsed_s) is float and math.isfinite(elapsed_s)))
            and set(map(type, ids)) <= {str}
            and set(map(type, texts)) <= {str}
            and set(map(type, seeds)) <= {int}
        ):  # the common records, spelled out: what _text_record_line writes, without its checks per record
            js, seed_text = _json_str, int.__repr__
            tail = f',"elapsed_s":{"null" if elapsed_s is None else float.__repr__(elapsed_s)}}}'
            lines = [
                f'{{"id":{js(sid)},"status":"ok","output":{js(text)},"error":null,"seed":{seed_text(seed)}{tail}'
                for sid, seed, text in zip(ids, seeds, texts, strict=True)
            ]
        else:
            kept = [self._kept(pred) for pred in preds]
            preds, lines = [pred for pred, _ in kept], [line for _, line in kept]
        self.write_lines(lines, (preds, lines))

    def _kept(self, pred: Prediction) -> tuple[Prediction, str]:
        """``pred``'s record line, and the prediction that reading it back gives (with this writer's
        image folder; an error without the credentials it quotes)."""
        if pred.error:
            pred = dataclasses.replace(pred, error=redact_text(str(pred.error)))
        line = _text_record_line(pred)
        if line is not None:
            if pred.images_root is not self.images_root and pred.images_root != self.images_root:
                pred = dataclasses.replace(pred, images_root=self.images_root)
            return pred, line
        # what reading it back gives, and the line that encodes that
        pred = Prediction.from_record(loads(dumps(pred.to_record())), self.images_root)
        return pred, dumps(pred.to_record())


class ScoreWriter(JsonlWriter):
    """Score records carry the digest of the prediction they judged; reasons and details lose any
    credential they quote (a judge's URL in its error)."""

    def write_score(self, score: SampleScore, prediction: Prediction, *, flush: bool = True) -> SampleScore:
        """:meth:`write_scores` of one score."""
        return self.write_scores([(score, prediction)], flush=flush)[0]

    def write_scores(
        self, entries: Sequence[tuple[SampleScore, Prediction]], *, flush: bool = True
    ) -> list[SampleScore]:
        """Write the scores of ``entries`` (each with the prediction it judged) with one write, flushed
        together (a batch's scores: on disk before the next batch starts). Each is encoded once; what
        is kept for the run is the score that reading its line back gives (the score itself, when
        JSON gives back exactly its values), returned in order."""
        scores = [score for score, _ in entries]
        digests = [prediction.digest for _, prediction in entries]
        plain = _plain_score_lines(scores)
        if plain is not None:  # the common batch: every line spelled out, no check per score
            js = _json_str
            lines = [f'{line[:-1]},"prediction":{js(digest)}}}' for line, digest in zip(plain, digests, strict=True)]
            self.write_lines(lines, _WrittenScores(scores, digests, plain), flush=flush)
            return scores
        kept: list[SampleScore] = []
        merged: list[str] = []
        lines = []
        for score, digest in zip(scores, digests, strict=True):
            reason = redact_text(score.reason) if score.reason else score.reason
            line = _plain_score_line(score, reason)  # without the digest, as in scores.jsonl
            if line is not None:
                value = score if reason is score.reason else dataclasses.replace(score, reason=reason)
                merged_line = line
            else:  # kept: what reading it back gives, and the line that encodes that
                record = score.to_record()
                record["reason"] = reason
                if score.details:
                    record["details"] = redact(score.details)
                line = dumps(record)
                value = SampleScore.from_record(loads(line))
                merged_line = dumps(value.to_record())
            kept.append(value)
            merged.append(merged_line)
            lines.append(f'{line[:-1]},"prediction":{_json_str(digest)}}}')
        self.write_lines(lines, _WrittenScores(kept, digests, merged), flush=flush)
        return kept


class _WrittenScores(NamedTuple):
    """What :meth:`ScoreWriter.write_scores` wrote in one call: the scores that reading the lines back
    gives, the digests of the predictions they judged, and each score's line without the digest (as
    ``scores.jsonl`` holds it), which the merged file copies."""

    scores: list[SampleScore]
    digests: list[str]
    lines: list[str]


_json_str: Callable[[str], str] = json.encoder.encode_basestring


def _text_record_line(pred: Prediction) -> str | None:
    """``dumps(pred.to_record())`` for a text prediction whose values JSON gives back unchanged (the
    common record, spelled out: three times faster than the encoder); None for any other."""
    sid, out, err, seed, el = pred.sample_id, pred.output, pred.error, pred.seed, pred.elapsed_s
    if (
        type(sid) is not str
        or type(out) is not str
        or pred.files is not None
        or type(pred.status) is not Status
        or not (err is None or type(err) is str)
        or not (seed is None or type(seed) is int)
        or not (el is None or (type(el) is float and math.isfinite(el)))
    ):
        return None
    return (
        f'{{"id":{_json_str(sid)},"status":"{status_text(pred.status)}","output":{_json_str(out)},'
        f'"error":{"null" if err is None else _json_str(err)},"seed":{"null" if seed is None else int.__repr__(seed)},'
        f'"elapsed_s":{"null" if el is None else float.__repr__(el)}}}'
    )


_CORRECT_TEXT = {True: "true", False: "false", None: "null"}


def _plain_score_line(score: SampleScore, reason: str) -> str | None:
    """``dumps(score.to_record())`` (``reason`` as given) for a score without details whose values JSON
    gives back unchanged; None for any other."""
    value, correct = score.score, score.correct
    if (
        score.details
        or type(score.id) is not str
        or type(value) is not float
        or not math.isfinite(value)
        or not (correct is None or type(correct) is bool)
        or type(reason) is not str
        or type(score.status) is not str
        or type(score.details) is not dict
    ):
        return None
    return _score_text(score.id, value, correct, reason, score.status)


def _score_text(sid: str, value: float, correct: bool | None, reason: str, status: str) -> str:
    """The line of a score without details (see :func:`_plain_score_line`)."""
    return (
        f'{{"id":{_json_str(sid)},"score":{float.__repr__(value)},"correct":{_CORRECT_TEXT[correct]},'
        f'"reason":{_json_str(reason)},"status":{_json_str(status)},"details":{{}}}}'
    )


_CORRECT_TYPES = frozenset({bool, type(None)})


def _plain_score_lines(scores: Sequence[SampleScore]) -> list[str] | None:
    """The lines of a batch of scores without reasons or details whose values JSON gives back
    unchanged (what :func:`_plain_score_line` gives each), checked for the batch at once; None if
    any is another."""
    if any(score.reason or score.details for score in scores):
        return None
    ids, values = [s.id for s in scores], [s.score for s in scores]
    corrects, statuses = [s.correct for s in scores], [s.status for s in scores]
    if not (
        set(map(type, ids)) <= {str}
        and set(map(type, values)) <= {float}
        and all(map(math.isfinite, values))
        and set(map(type, corrects)) <= _CORRECT_TYPES
        and set(map(type, statuses)) <= {str}
        and {type(s.reason) for s in scores} <= {str}
        and {type(s.details) for s in scores} <= {dict}
    ):
        return None
    return list(map(_score_text, ids, values, corrects, [""] * len(scores), statuses))


class TaskStore:
    """The part of a run that belongs to one task."""

    def __init__(self, root: Path, task: str) -> None:
        self.task = task
        self.dir = root / task
        self.records_dir = self.dir / "records"
        self.images_dir = self.dir / "images"
        self.scoring_dir = self.dir / "scoring"
        self.predictions_path = self.dir / "predictions.jsonl"
        self.scores_path = self.dir / "scores.jsonl"
        self.results_path = self.dir / RESULTS
        # what was parsed from the rank files, keyed by their (size, mtime, inode): read once per run,
        # and once a rank file grew, only what was appended to it; what this process's writers append
        # is added as it was written, not read back
        self._predictions: tuple[object, dict[str, Prediction]] | None = None
        self._scores: tuple[object, list[tuple[Any, SampleScore]]] | None = None
        self._record_reader = AppendedReader(_checked(lambda r: Prediction.from_record(r, self.images_dir)))
        self._score_reader = AppendedReader(_checked(_score_and_digest))
        # the latest prediction of each sample this process's writers wrote with its line, and the last
        # score written or read from scores.jsonl with its line, so that the merged files copy them
        # instead of encoding the records again
        self._record_lines: dict[str, str] = {}
        self._line_owners: dict[str, Prediction] = {}  # the prediction each of these lines encodes
        self._score_lines: dict[str, str] = {}
        self._score_line_owners: dict[str, SampleScore] = {}  # the score each of these lines encodes

    # -- inference records -------------------------------------------------------------------
    def record_writer(self, rank: int) -> RecordWriter:
        """The writer of this rank's records. When what :meth:`read_predictions` holds is up to date as
        it opens, the records it writes are added to that when it closes, instead of being read back."""
        path = _rank_file(self.records_dir, rank)
        known = self._predictions
        if known is None or known[0] != _folder_signature(self.records_dir):
            return RecordWriter(path, self.images_dir)

        def add(written: list[Any]) -> None:
            key = _only_appended(self.records_dir, path, known[0])
            if key is None:
                return
            out = dict(known[1])
            owners, lines = self._line_owners, self._record_lines
            for item in written:
                if type(item) is tuple:  # (predictions, their lines) from write_prediction / write_answers
                    for pred, line in zip(*item, strict=True):
                        _keep_latest(out, pred)
                        owners[pred.sample_id] = pred
                        lines[pred.sample_id] = line
                elif _same_after_json(item):  # a record written as a dict (an import)
                    _keep_latest(out, Prediction.from_record(item, self.images_dir))
                else:
                    return  # JSON would change it: read the file back
            self._predictions = (key, out)

        return RecordWriter(path, self.images_dir, on_close=add)

    @staticmethod
    def _read_all(folder: Path, reader: AppendedReader[T]) -> Iterable[T]:
        """Every record of every rank file in ``folder``, with what ``reader`` parsed of it; a record
        that does not parse is reported with its file (it was edited or written by something else)."""
        if not folder.is_dir():
            return
        for path in sorted(folder.glob("rank-*.jsonl")):
            yield from reader.read(path)

    def read_predictions(self) -> dict[str, Prediction]:
        """Every sample's latest record; a successful record beats a failed one for the same id."""
        key = _folder_signature(self.records_dir)
        if self._predictions is None or self._predictions[0] != key:
            out: dict[str, Prediction] = {}
            ok = Status.OK
            for pred in self._read_all(self.records_dir, self._record_reader):
                if pred.status is ok and pred.sample_id not in out:  # (_keep_latest's rule, without a call)
                    out[pred.sample_id] = pred
                else:
                    _keep_latest(out, pred)
            self._predictions = (key, out)
        return dict(self._predictions[1])

    def has_records(self) -> bool:
        """Whether any rank has written an inference record for this task (a resume, not a first run)."""
        return any(path.stat().st_size for path in self.records_dir.glob("rank-*.jsonl"))

    def finished_ids(self, *, retry_failed: bool) -> set[str]:
        """Samples not to run again: those with a record whose image files (if any) are unchanged."""
        preds = self.read_predictions()
        return {sid for sid, p in preds.items() if (p.ok or not retry_failed) and (not p.ok or p.files_unchanged())}

    def write_predictions(self, samples: Sequence[Sample], preds: dict[str, Prediction]) -> int:
        """Merge the rank files into ``predictions.jsonl`` in sample order; returns the count."""
        lines = []
        get, line_of = preds.get, self._merged_record_line
        for sample in samples:
            pred = get(sample.id)
            if pred is None:
                continue
            lines.append(line_of(pred, sample) + "\n")
        write_text_atomic(self.predictions_path, "".join(lines))
        return len(lines)

    def _merged_record_line(self, pred: Prediction, sample: Sample) -> str:
        """``pred``'s line in ``predictions.jsonl``: its record with the sample's "target" added last, as
        dumps() would write it, without encoding the record again where this process wrote it."""
        sid = pred.sample_id
        line = self._record_lines[sid] if self._line_owners.get(sid) is pred else dumps(pred.to_record())
        target = sample.target
        return f'{line[:-1]},"target":{_json_str(target) if type(target) is str else dumps(target)}}}'

    def update_predictions(
        self, samples: Sequence[Sample], preds: dict[str, Prediction], changed: Set[str]
    ) -> dict[str, Prediction] | None:
        """Rewrite ``predictions.jsonl`` where only the predictions of ``changed`` may differ from those it
        was merged from: their lines are encoded again, every other line is kept as it is. Returns the
        predictions the replaced lines held (by sample id); None, and nothing written, unless the file
        holds one record per sample, in their order."""
        lines = _lines_of(self.predictions_path, len(samples))
        if lines is None:
            return None
        before: dict[str, Prediction] = {}
        for i, sample in enumerate(samples):
            if sample.id in changed:
                pred = preds.get(sample.id)
                try:
                    rec = loads(lines[i])
                    old = Prediction.from_record(rec, self.images_dir) if rec["id"] == sample.id else None
                except (ValueError, KeyError, TypeError, AttributeError):
                    old = None
                if pred is None or old is None:
                    return None
                before[sample.id] = old
                lines[i] = self._merged_record_line(pred, sample)
        lines.append("")
        write_text_atomic(self.predictions_path, "\n".join(lines))
        return before

    # -- scores ------------------------------------------------------------------------------
    def score_writer(self, rank: int) -> ScoreWriter:
        """The writer of this rank's scores; what it writes is kept as :meth:`record_writer`'s records are
        (when what :meth:`read_scores` holds is up to date as it opens), and the lines it wrote are
        copied into ``scores.jsonl`` (see :meth:`write_scores`)."""
        path = _rank_file(self.scoring_dir, rank)
        known = self._scores
        if known is not None and known[0] != _folder_signature(self.scoring_dir):
            known = None

        def add(written: list[Any]) -> None:
            batches = [item for item in written if isinstance(item, _WrittenScores)]
            for batch in batches:
                ids = [score.id for score in batch.scores]
                self._score_line_owners.update(zip(ids, batch.scores, strict=True))
                self._score_lines.update(zip(ids, batch.lines, strict=True))
            if known is None or len(batches) != len(written):  # (a score written as a dict: read the file back)
                return
            key = _only_appended(self.scoring_dir, path, known[0])
            if key is None:
                return
            added = list(known[1])
            for batch in batches:
                added.extend(zip(batch.digests, batch.scores, strict=True))
            self._scores = (key, added)

        return ScoreWriter(path, on_close=add)

    def read_scores(self, predictions: dict[str, Prediction] | None = None) -> dict[str, SampleScore]:
        """Stored scores (the last per sample). With ``predictions``, only scores made for exactly
        those predictions count: a sample re-run since (e.g. ``--retry-failed``) is scored again."""
        key = _folder_signature(self.scoring_dir)
        if self._scores is None or self._scores[0] != key:
            self._scores = (key, list(self._read_all(self.scoring_dir, self._score_reader)))
        out: dict[str, SampleScore] = {}
        for digest, score in self._scores[1]:
            if predictions is not None:
                pred = predictions.get(score.id)
                if pred is None or digest != pred.digest:
                    continue
            prev = out.get(score.id)
            if prev is not None and score.status in RETRY_STATUSES and prev.status not in RETRY_STATUSES:
                continue  # a verdict made after a retry wins, whichever rank file holds it
            out[score.id] = score
        return out

    def read_kept_scores(self, samples: Sequence[Sample]) -> dict[str, SampleScore] | None:
        """The scores of ``scores.jsonl`` when it holds one per sample, in their order (as a complete
        pass leaves it); None otherwise. Their lines are copied into the next ``scores.jsonl`` (see
        :meth:`write_scores`), not encoded again."""
        lines = _lines_of(self.scores_path, len(samples))
        if lines is None:
            return None
        try:  # one call for every line: decoding them one by one costs twice as much
            records = loads(f"[{','.join(lines)}]")
        except ValueError:
            return None  # edited or damaged: the scores are read from the rank files
        ids = [rec.get("id") if type(rec) is dict else None for rec in records]
        if ids != [sample.id for sample in samples]:
            return None
        try:
            scores = list(map(SampleScore.from_record, records))
        except (KeyError, TypeError, ValueError):
            return None
        self._score_line_owners.update(zip(ids, scores, strict=True))
        self._score_lines.update(zip(ids, lines, strict=True))
        return dict(zip(ids, scores, strict=True))

    def read_merged_scores(self) -> dict[str, SampleScore]:
        """The scores ``results.json`` was aggregated from (``scores.jsonl``), in sample order."""
        return {s.id: s for s in _parse_records(self.scores_path, SampleScore.from_record)}

    def scoring_fingerprint(self) -> dict[str, Any] | None:
        path = self.scoring_dir / "config.json"
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            data = exc
        if not isinstance(data, dict):
            raise RunStoreError(
                f"{path} is not valid JSON (the scoring settings of the stored scores)",
                hint="delete it and run `ming-eval score RUN_DIR`: the task is scored again and the old scores "
                "are moved aside, not deleted",
            )
        return data

    def reset_scoring(self, fingerprint: dict[str, Any]) -> Path | None:
        """Start scoring afresh under ``fingerprint``; earlier scores are moved aside, not deleted.

        Returns where the old scores went, if there were any (for tests and tools).
        """
        moved: Path | None = None
        if self.scoring_dir.exists() and any(self.scoring_dir.iterdir()):
            stamp = time.strftime("%Y%m%d-%H%M%S")
            moved = self.dir / f"scoring.{stamp}"
            n = 1
            while moved.exists():
                moved = self.dir / f"scoring.{stamp}-{n}"
                n += 1
            os.replace(self.scoring_dir, moved)
        self.scoring_dir.mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.scoring_dir / "config.json", fingerprint)
        return moved

    def written_here(self, score: SampleScore) -> bool:
        """Whether this process's writer wrote ``score`` (which is then exactly what the file holds), or
        read it back from ``scores.jsonl`` (which holds it as it is)."""
        return self._score_line(score) is not None

    def _score_line(self, score: SampleScore) -> str | None:
        """``score``'s merged line, if this process's writer wrote it or :meth:`read_kept_scores` read it."""
        return self._score_lines[score.id] if self._score_line_owners.get(score.id) is score else None

    def write_scores(self, samples: Sequence[Sample], scores: dict[str, SampleScore]) -> None:
        """Write ``scores.jsonl``: the scores of ``samples``, in their order. A score this process wrote
        (or read from ``scores.jsonl``) is copied as it was encoded then (without its prediction
        digest), not encoded again."""
        get, owner, copied = scores.get, self._score_line_owners.get, self._score_lines
        lines = [
            copied[sid] if owner(sid := score.id) is score else _score_line_of(score)
            for sample in samples
            if (score := get(sample.id)) is not None
        ]
        lines.append("")
        write_text_atomic(self.scores_path, "\n".join(lines))

    # -- results -----------------------------------------------------------------------------
    def write_results(self, result: TaskResult) -> None:
        write_json_atomic(self.results_path, _redacted_result(result))

    def read_results_or_none(self) -> TaskResult | None:
        """The task's results, or None when the file is missing or damaged (to rebuild the run's file)."""
        try:
            return self.read_results()
        except RunStoreError:
            return None

    def read_results(self) -> TaskResult | None:
        if not self.results_path.is_file():
            return None
        return _parse_results(self.results_path, lambda d: TaskResult.from_dict(d))


class RunStore:
    """A run directory: its manifest, and one :class:`TaskStore` per task."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.manifest_path = root / MANIFEST
        self.results_path = root / RESULTS
        self._tasks: dict[str, TaskStore] = {}

    @classmethod
    def create(cls, root: Path) -> RunStore:
        """Open ``root`` for writing, creating it; a clear error if that is impossible."""
        try:
            root.mkdir(parents=True, exist_ok=True)
            probe = root / f".write-test-{os.getpid()}"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            raise RunStoreError(
                f"cannot write to the output directory {root}: {exc.strerror or exc}",
                hint="choose another --out directory, or fix its permissions",
            ) from exc
        return cls(root)

    @classmethod
    def open_existing(cls, root: Path) -> RunStore:
        store = cls(root)
        if not root.is_dir():
            raise RunStoreError(f"run directory {root} does not exist")
        if not store.manifest_path.is_file():
            raise RunStoreError(
                f"{root} is not a ming-eval run: it has no {MANIFEST}",
                hint="pass the directory given to `ming-eval run --out`",
            )
        return store

    def task(self, name: str) -> TaskStore:
        """The task's store; the same object for the same name, so what it has read is read once."""
        if name not in self._tasks:
            self._tasks[name] = TaskStore(self.root, name)
        return self._tasks[name]

    def read_manifest(self) -> RunManifest | None:
        """The run's manifest, validated; None if the directory has none yet."""
        if not self.manifest_path.is_file():
            return None
        path = self.manifest_path
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise RunStoreError(f"{path} is not valid JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise RunStoreError(f"{path} is not a ming-eval manifest (a JSON object)")
        fmt = data.get("format")
        if fmt != FORMAT:
            required = [name for name, f in RunManifest.model_fields.items() if f.is_required()]
            missing = [k for k in required if k not in data]
            what = f"format {fmt!r}" if fmt is not None else "no 'format' key (an older, unversioned run)"
            lacks = f"; it lacks {', '.join(repr(k) for k in missing)}" if missing else ""
            raise RunStoreError(
                f"{path} has {what}{lacks}; this ming-eval reads {FORMAT!r} runs",
                hint="re-score it with the ming-eval version that made it, or run the tasks again into a new --out",
            )
        try:
            return RunManifest.model_validate(data)
        except ValidationError as exc:
            problems = "\n".join(f"  - {p}" for p in validation_problems(exc, RunManifest))
            raise RunStoreError(
                f"{path} is not a valid {FORMAT} manifest:\n{problems}",
                hint="the file was edited or damaged: restore it from a copy, or run the tasks again into a new --out",
            ) from None

    def require_manifest(self) -> RunManifest:
        """The manifest of a run that must have one (reports, re-scoring)."""
        manifest = self.read_manifest()
        if manifest is None:
            raise RunStoreError(
                f"{self.root} is not a ming-eval run: it has no {MANIFEST}",
                hint="pass the directory given to `ming-eval run --out`",
            )
        return manifest

    def write_manifest(self, manifest: RunManifest) -> None:
        write_json_atomic(self.manifest_path, manifest.to_json())

    def task_names(self) -> list[str]:
        manifest = self.read_manifest()
        return list(manifest.tasks) if manifest is not None else []

    def read_results(self) -> dict[str, TaskResult]:
        """Every task's latest results in this run (the run-level results.json)."""
        if not self.results_path.is_file():
            return {}
        return _parse_results(
            self.results_path, lambda d: {name: TaskResult.from_dict(r) for name, r in d["tasks"].items()}
        )

    def results_to_merge(self) -> dict[str, TaskResult]:
        """What :meth:`read_results` gives, or, when the run's results.json is damaged, the results in the
        tasks' own files: scoring rebuilds the run's file instead of stopping on it."""
        try:
            return self.read_results()
        except RunStoreError:
            return {
                name: result
                for name in self.task_names()
                if (result := self.task(name).read_results_or_none()) is not None
            }

    def read_summaries(self) -> dict[str, Summary] | None:
        """The suite summaries stored with the results; None when the file predates stored summaries
        (or there is no file): then they must be computed from the suite cards."""
        if not self.results_path.is_file():
            return None
        return _parse_results(
            self.results_path,
            lambda d: None if "summaries" not in d else {k: Summary.from_dict(k, v) for k, v in d["summaries"].items()},
        )

    def write_results(self, results: dict[str, TaskResult], summaries: Mapping[str, Summary]) -> None:
        """Merge ``results`` into the run's results.json; ``summaries`` (computed over the merged tasks,
        see :func:`ming_eval.runner.results.write_run_results`) replace the stored ones."""
        existing = {name: _redacted_result(r) for name, r in self.results_to_merge().items()}
        existing.update({name: _redacted_result(r) for name, r in results.items()})
        write_json_atomic(
            self.results_path,
            {"format": FORMAT, "tasks": existing, "summaries": {k: s.to_dict() for k, s in summaries.items()}},
        )


def _redacted_result(result: TaskResult) -> dict[str, Any]:
    data = result.to_dict()
    data["notes"] = [redact_text(note) for note in data["notes"]]
    data["info"] = redact(data["info"])
    if data.get("judge"):
        data["judge"] = redact_text(data["judge"])
    return data


def _only_appended(folder: Path, path: Path, known: Any) -> Any:
    """The signature of ``folder`` now, if reading it again would give what was parsed under the
    signature ``known`` followed by what was written to ``path``: no other rank file changed and
    ``path`` is the last one read. Otherwise None (then the files are read)."""
    key = _folder_signature(folder)
    others = [entry for entry in key if entry[0] != path.name]
    if not key or key[-1][0] != path.name or others != [e for e in known if e[0] != path.name]:
        return None
    return key


def _score_line_of(score: SampleScore) -> str:
    """``dumps(score.to_record())``."""
    return _plain_score_line(score, score.reason) or dumps(score.to_record())


def _lines_of(path: Path, count: int) -> list[str] | None:
    """The lines of the merged file ``path`` (without their newlines) if it has exactly ``count``."""
    try:
        text = path.read_bytes().decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    lines = text.split("\n")
    if lines.pop() != "" or len(lines) != count:
        return None
    return lines


def _keep_latest(preds: dict[str, Prediction], pred: Prediction) -> None:
    """Add ``pred``, read after the others: a later record wins, except a failure over a success, and a
    success whose images changed since over one whose images are as it recorded them. Rank files are
    read in rank order, not in the order they were written: a sample whose images were made again by a
    run with fewer ranks has its new record in a lower rank's file than its old one."""
    prev = preds.get(pred.sample_id)
    if prev is not None and prev.ok:
        if not pred.ok:
            return
        if prev.files is not None and not pred.files_unchanged() and prev.files_unchanged():
            return  # two successes: the earlier is kept only when its images are the ones on disk
    preds[pred.sample_id] = pred


_JSON_SCALARS = frozenset({str, int, float, bool, type(None)})


def _same_after_json(value: Any) -> bool:
    """Whether ``value`` is read back from its JSON as an equal value of the same types (no tuples,
    numpy scalars or other subclasses, which come back as lists and plain numbers)."""
    kind = type(value)
    if kind in _JSON_SCALARS:
        return True
    if kind is list:
        for v in value:  # noqa: SIM110 - a loop, not all() over a generator: this runs per record
            if type(v) not in _JSON_SCALARS and not _same_after_json(v):
                return False
        return True
    if kind is dict:
        for k, v in value.items():
            if type(k) is not str or (type(v) not in _JSON_SCALARS and not _same_after_json(v)):
                return False
        return True
    return False


def _folder_signature(folder: Path) -> list[tuple[str, int, int, int]]:
    """(name, size, mtime, inode) of each rank file in ``folder``: changes whenever one is written."""
    out = []
    for path in sorted(folder.glob("rank-*.jsonl")) if folder.is_dir() else []:
        st = path.stat()
        out.append((path.name, st.st_size, st.st_mtime_ns, st.st_ino))
    return out


def _score_and_digest(rec: dict[str, Any]) -> tuple[Any, SampleScore]:
    """A stored score with the digest of the prediction it was made for."""
    return rec.get("prediction"), SampleScore.from_record(rec)


def _checked(parse: Callable[[dict[str, Any]], T]) -> Callable[[Path, int, list[dict[str, Any]]], list[T]]:
    """``parse`` of records of a file (the first numbered ``number``); the error of a record that does
    not parse names the file and the record."""

    def checked(path: Path, number: int, records: list[dict[str, Any]]) -> list[T]:
        try:  # all at once; the bad record is looked for only when one fails
            return list(map(parse, records))
        except (KeyError, TypeError, ValueError):
            pass
        out = []
        for offset, rec in enumerate(records):
            try:
                out.append(parse(rec))
            except (KeyError, TypeError, ValueError) as exc:
                raise RunStoreError(
                    f"{path}: record {number + offset} is malformed ({type(exc).__name__}: {exc})",
                    hint="the file was edited or corrupted; remove that line and re-run to redo the sample",
                ) from exc
        return out

    return checked


def _parse_records(path: Path, parse: Callable[[dict[str, Any]], T]) -> list[T]:
    return _checked(parse)(path, 1, list(read_jsonl(path)))


def _parse_results(path: Path, parse: Callable[[Any], R]) -> R:
    try:
        return parse(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as exc:
        raise RunStoreError(
            f"{path} is not a valid results file ({type(exc).__name__}: {exc})",
            hint="re-create it with `ming-eval score RUN_DIR` (scores are kept, so nothing is recomputed)",
        ) from exc
