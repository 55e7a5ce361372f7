"""GenEval's decision rules, as pure functions of detections: no model, no image, no I/O.

Behaviour matches ``evaluation/evaluate_images.py`` of djghosh13/geneval (commit af4902f), including
its numerics: scores and boxes stay float32 and thresholds are compared in float32 (a score of
``float32(0.3)`` does not pass ``> 0.3``); per class, detections are ordered by ``numpy.argsort`` of
the scores, reversed, with numpy 1.23's tie order whatever numpy is installed (see ``ordering.py``;
for up to 16 equal scores the later raw detection comes first); the geometry of
``relative_position`` is computed in float32.

Two deliberate differences, both documented in ``docs/geneval_scoring.md``:

* the relations in a position failure's reason are listed in a fixed order (left of, right of,
  above, below); upstream joins a Python ``set``, whose order depends on ``PYTHONHASHSEED``;
* a position clause that refers to an include group not evaluated before it is refused when the
  metadata is read (upstream raises ``IndexError`` mid-run).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from ming_eval.tasks.geneval.constants import COLORS, OBJECT_NAMES
from ming_eval.tasks.geneval.detection import Detections
from ming_eval.tasks.geneval.metadata import PromptMeta
from ming_eval.tasks.geneval.ordering import descending_order


@dataclass(frozen=True)
class RuleOptions:
    """The knobs of GenEval's evaluator, with its defaults (``--options key=value`` upstream)."""

    threshold: float = 0.3
    counting_threshold: float = 0.9
    max_objects: int = 16
    #: greedy IoU suppression within a class; 1.0 (upstream's default) turns it off
    max_overlap: float = 1.0
    position_threshold: float = 0.1


@dataclass(frozen=True)
class DetectedObject:
    """One kept detection: ``row`` is ``[x1, y1, x2, y2, score]`` in float32, as upstream's bbox row."""

    row: NDArray[np.float32]
    mask: NDArray[np.bool_] | None = None
    #: position of this detection in the image's :class:`Detections`
    source_index: int = -1

    @property
    def box(self) -> tuple[float, float, float, float]:
        x1, y1, x2, y2 = (float(v) for v in self.row[:4])
        return x1, y1, x2, y2

    @property
    def score(self) -> float:
        return float(self.row[4])


ObjectMap = dict[str, list[DetectedObject]]


def iou_plus_one(a: NDArray[np.float32], b: NDArray[np.float32]) -> np.float32:
    """IoU with GenEval's pixel-inclusive areas (``x2 - x1 + 1``), in float32."""
    one = np.float32(1)
    zero = np.float32(0)

    def area(x1: np.float32, y1: np.float32, x2: np.float32, y2: np.float32) -> np.float32:
        return np.float32(max(x2 - x1 + one, zero) * max(y2 - y1 + one, zero))

    inter = area(max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3]))
    union = area(a[0], a[1], a[2], a[3]) + area(b[0], b[1], b[2], b[3]) - inter
    return np.float32(inter / union) if union else zero


def class_threshold(tag: str, options: RuleOptions) -> float:
    return options.counting_threshold if tag == "counting" else options.threshold


def keep_ranked(ranked: NDArray[np.float32], tag: str, options: RuleOptions) -> list[int]:
    """Which of one class's rows GenEval keeps, as positions in ``ranked``.

    ``ranked`` holds ``[x1, y1, x2, y2, score]`` rows already in upstream's order (most confident
    first): keep scores strictly above the tag's threshold (in float32), at most ``max_objects``, then
    greedy IoU suppression if ``max_overlap < 1``.
    """
    cutoff = np.float32(class_threshold(tag, options))
    queue: list[int] = np.flatnonzero(ranked[:, 4] > cutoff)[: options.max_objects].tolist()
    if options.max_overlap == 1:
        return queue
    overlap = np.float32(options.max_overlap)
    kept: list[int] = []
    while queue:
        best = queue.pop(0)
        kept.append(best)
        queue = [j for j in queue if iou_plus_one(ranked[best], ranked[j]) < overlap]
    return kept


def select_objects(dets: Detections, tag: str, options: RuleOptions) -> ObjectMap:
    """The detections GenEval keeps, per class name, most confident first.

    Per class: order by score (reversed ``argsort``), then :func:`keep_ranked`. Classes with nothing
    kept are absent; keys follow the class order of ``object_names.txt``.
    """
    n = len(dets)
    if n == 0:
        return {}
    boxes = np.asarray(dets.boxes, dtype=np.float32).reshape(n, 4)
    scores = np.asarray(dets.scores, dtype=np.float32).reshape(n)
    labels = np.asarray(dets.labels).reshape(n)
    if labels.size and (labels.min() < 0 or labels.max() >= len(OBJECT_NAMES)):
        raise ValueError(f"detector returned class labels outside 0..{len(OBJECT_NAMES) - 1}: {sorted(set(labels))}")
    rows_all = np.concatenate([boxes, scores[:, None]], axis=1)
    out: ObjectMap = {}
    for label in sorted(set(labels.tolist())):
        members = np.flatnonzero(labels == label)  # raw detector order within the class
        ranked = members[descending_order(rows_all[members, 4])]
        kept: list[DetectedObject] = []
        for position in keep_ranked(rows_all[ranked], tag, options):
            src = int(ranked[position])
            # a copy, so that keeping a few objects does not keep the detector's whole (N, H, W) stack alive
            mask = None if dets.masks is None else np.array(dets.masks[src], dtype=bool)
            kept.append(DetectedObject(rows_all[src], mask, src))
        if kept:
            out[OBJECT_NAMES[label]] = kept
    return out


def relative_position(a: NDArray[np.float32], b: NDArray[np.float32], position_threshold: float) -> tuple[str, ...]:
    """Where box ``a`` lies relative to box ``b`` (float32, image y down), in a fixed order.

    The centre offset is shrunk on each axis by ``position_threshold`` times the summed extents; what
    is left, divided by the length of the unshrunk offset, must exceed 0.5 along an axis.
    """
    box_a = np.asarray(a[:4], dtype=np.float32)
    box_b = np.asarray(b[:4], dtype=np.float32)
    two = np.float32(2)
    centre_a = (box_a[:2] + box_a[2:]) / two
    centre_b = (box_b[:2] + box_b[2:]) / two
    extent = np.abs(box_a[2:] - box_a[:2]) + np.abs(box_b[2:] - box_b[:2])
    offset = centre_a - centre_b
    shrunk = np.maximum(np.abs(offset) - np.float32(position_threshold) * extent, np.float32(0)) * np.sign(offset)
    if np.all(np.abs(shrunk) < np.float32(1e-3)):
        return ()
    dx, dy = shrunk / np.linalg.norm(offset)
    half = np.float32(0.5)
    found = []
    if dx < -half:
        found.append("left of")
    if dx > half:
        found.append("right of")
    if dy < -half:
        found.append("above")
    if dy > half:
        found.append("below")
    return tuple(found)


@dataclass(frozen=True)
class ColorRequest:
    """Include group ``group`` needs the colours of ``objects`` (its most confident ``count``)."""

    group: int
    cls: str
    objects: tuple[DetectedObject, ...]


def color_requests(meta: PromptMeta, objects: ObjectMap) -> list[ColorRequest]:
    """The colour classifications :func:`evaluate` will need (groups with enough objects and a colour)."""
    out = []
    for g, inc in enumerate(meta.include):
        found = objects.get(inc.cls, [])[: inc.count]
        if inc.color is not None and len(found) >= inc.count:
            out.append(ColorRequest(g, inc.cls, tuple(found)))
    return out


def _color_tally(colors: Sequence[str | None]) -> str:
    return ", ".join(f"{colors.count(c)} {c}" for c in COLORS if c in colors)


def evaluate(
    meta: PromptMeta,
    objects: ObjectMap,
    colors: Mapping[int, Sequence[str | None]],
    options: RuleOptions,
) -> tuple[bool, str]:
    """Decide one image: includes are ANDed, excludes ORed. Returns (correct, reason).

    ``colors[g]`` holds the classified colours of include group ``g``'s objects, for every group that
    :func:`color_requests` lists (None: the object could not be classified, e.g. an empty crop).
    ``reason`` has one line per failed clause, worded as upstream words it.
    """
    correct = True
    reasons: list[str] = []
    matched: list[list[DetectedObject] | None] = []
    for g, inc in enumerate(meta.include):
        found = objects.get(inc.cls, [])[: inc.count]
        ok = True
        if len(found) < inc.count:
            ok = False
            reasons.append(f"expected {inc.cls}>={inc.count}, found {len(found)}")
        else:
            if inc.color is not None:
                got = list(colors[g])
                n_match = got.count(inc.color)
                if n_match < inc.count:
                    ok = False
                    reasons.append(
                        f"expected {inc.color} {inc.cls}>={inc.count}, found {n_match} {inc.color}; and "
                        + _color_tally(got)
                    )
            if inc.position is not None and ok:
                relation, target = inc.position
                reference = matched[target]
                if reference is None:
                    ok = False
                    reasons.append(f"no target for {inc.cls} to be {relation}")
                else:
                    for obj in found:
                        for ref in reference:
                            actual = relative_position(obj.row, ref.row, options.position_threshold)
                            if relation not in actual:
                                ok = False
                                reasons.append(
                                    f"expected {inc.cls} {relation} target, found {' and '.join(actual)} target"
                                )
                                break
                        if not ok:
                            break
        correct = correct and ok
        matched.append(found if ok else None)
    for exc in meta.exclude:
        present = objects.get(exc.cls, [])
        if len(present) >= exc.count:
            correct = False
            reasons.append(f"expected {exc.cls}<{exc.count}, found {len(present)}")
    return correct, "\n".join(reasons)


def details_of(objects: ObjectMap) -> dict[str, list[list[float]]]:
    """Kept detections as upstream's ``details``: ``{class: [[x1, y1, x2, y2, score], ...]}``."""
    return {cls: [[float(v) for v in obj.row] for obj in objs] for cls, objs in objects.items()}


def objects_from_details(details: Any) -> ObjectMap:
    """Rebuild kept detections from an upstream results row's ``details`` (no masks).

    Raises ``ValueError`` unless ``details`` is ``{class: [[x1, y1, x2, y2, score], ...]}`` with GenEval's
    class names.
    """
    if not isinstance(details, Mapping):
        raise ValueError(f"expected an object of class names, got {type(details).__name__}")
    unknown = sorted(set(details) - set(OBJECT_NAMES))
    if unknown:
        raise ValueError(f"unknown classes in details: {unknown}")
    out: ObjectMap = {}
    for cls in OBJECT_NAMES:
        rows = details.get(cls)
        if not rows:
            continue
        table = np.asarray(rows, dtype=np.float32)
        if table.ndim != 2 or table.shape[1] != 5:
            raise ValueError(f"{cls!r} must be a list of [x1, y1, x2, y2, score] rows, got {rows!r}")
        out[cls] = [DetectedObject(row) for row in table]
    return out
