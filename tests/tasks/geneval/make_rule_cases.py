"""Generate the rule-check cases of ``fixtures/upstream_rules.json`` (run by hand, not by pytest).

    PYTHONPATH=. python tests/tasks/geneval/make_rule_cases.py > /tmp/rule_cases.json

Each case is a metadata line, raw detections ``[x1, y1, x2, y2, score, label]`` in detector order
(float32 values), the colour a classifier would give each detection, and optional rule options.
The expectations in the fixture were produced by running GenEval's own ``evaluate_image`` (see
``fixtures/README.md``) on exactly these cases.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import numpy as np

from ming_eval.tasks.geneval.constants import CLASS_INDEX, COLORS, OBJECT_NAMES, RELATIONS

F32 = np.float32
T03 = F32(0.3)
T09 = F32(0.9)
BOUNDARY_SCORES = [
    np.nextafter(T03, F32(0)),
    T03,
    np.nextafter(T03, F32(1)),
    np.nextafter(T09, F32(0)),
    T09,
    np.nextafter(T09, F32(1)),
    F32(0.5),
    F32(0.95),
    F32(0.99),
    F32(0.1),
]


def f(x: Any) -> float:
    return float(F32(x))


def det(cls: str, box: tuple[float, float, float, float], score: Any) -> list[float]:
    return [f(box[0]), f(box[1]), f(box[2]), f(box[3]), f(score), float(CLASS_INDEX[cls])]


def case(
    name: str,
    meta: dict[str, Any],
    dets: list[list[float]],
    colors: list[str] | None = None,
    options: dict[str, float] | None = None,
    size: tuple[int, int] = (512, 512),
) -> dict[str, Any]:
    colors = colors if colors is not None else ["red"] * len(dets)
    # identical raw rows must get the same colour: the upstream driver finds colours by row
    by_row: dict[tuple[float, ...], str] = {}
    colors = [by_row.setdefault(tuple(d), c) for d, c in zip(dets, colors, strict=True)]
    return {
        "name": name,
        "metadata": meta,
        "image_size": list(size),
        "detections": dets,
        "colors": colors,
        "options": options or {},
    }


def single(cls: str) -> dict[str, Any]:
    return {"tag": "single_object", "include": [{"class": cls, "count": 1}], "prompt": f"a photo of a {cls}"}


def two(a: str, b: str) -> dict[str, Any]:
    return {
        "tag": "two_object",
        "include": [{"class": a, "count": 1}, {"class": b, "count": 1}],
        "prompt": f"a photo of a {a} and a {b}",
    }


def counting(cls: str, n: int) -> dict[str, Any]:
    return {
        "tag": "counting",
        "include": [{"class": cls, "count": n}],
        "exclude": [{"class": cls, "count": n + 1}],
        "prompt": f"a photo of {n} {cls}s",
    }


def colors(cls: str, color: str) -> dict[str, Any]:
    return {
        "tag": "colors",
        "include": [{"class": cls, "count": 1, "color": color}],
        "prompt": f"a photo of a {color} {cls}",
    }


def position(a: str, rel: str, b: str) -> dict[str, Any]:
    return {
        "tag": "position",
        "include": [{"class": b, "count": 1}, {"class": a, "count": 1, "position": [rel, 0]}],
        "prompt": f"a photo of a {a} {rel} a {b}",
    }


def color_attr(ca: str, a: str, cb: str, b: str) -> dict[str, Any]:
    include = [{"class": a, "count": 1, "color": ca}, {"class": b, "count": 1, "color": cb}]
    return {"tag": "color_attr", "include": include, "prompt": f"a photo of a {ca} {a} and a {cb} {b}"}


def hand_cases() -> list[dict[str, Any]]:
    out = []
    dog = (100, 100, 200, 200)
    out.append(case("single pass", single("dog"), [det("dog", dog, 0.95)]))
    out.append(case("single score exactly float32(0.3) fails", single("dog"), [det("dog", dog, T03)]))
    out.append(case("single score just above 0.3 passes", single("dog"), [det("dog", dog, np.nextafter(T03, F32(1)))]))
    out.append(case("single wrong class", single("dog"), [det("cat", dog, 0.99)]))
    out.append(case("single nothing", single("dog"), []))
    out.append(case("two pass", two("dog", "cat"), [det("cat", (0, 0, 50, 50), 0.6), det("dog", dog, 0.4)]))
    out.append(case("two one missing", two("dog", "cat"), [det("dog", dog, 0.9)]))
    out.append(case("two both missing", two("dog", "cat"), [det("dog", dog, 0.2), det("cat", dog, 0.3)]))
    boxes = [(i * 20, 10, i * 20 + 15, 40) for i in range(24)]
    out.append(
        case(
            "count 2 pass, third below 0.9",
            counting("clock", 2),
            [det("clock", boxes[0], 0.95), det("clock", boxes[1], 0.92), det("clock", boxes[2], 0.85)],
        )
    )
    out.append(
        case(
            "count 2 with three above 0.9 fails",
            counting("clock", 2),
            [det("clock", boxes[i], 0.91 + i * 0.01) for i in range(3)],
        )
    )
    out.append(
        case(
            "count 2, one exactly float32(0.9)",
            counting("clock", 2),
            [det("clock", boxes[0], 0.95), det("clock", boxes[1], T09)],
        )
    )
    out.append(
        case("count 3 too few", counting("clock", 3), [det("clock", boxes[0], 0.95), det("clock", boxes[1], 0.97)])
    )
    out.append(
        case(
            "count 4 with 20 detections capped at 16",
            counting("clock", 4),
            [det("clock", boxes[i], 0.93) for i in range(20)],
        )
    )
    out.append(
        case(
            "count 4 with 20 tied, max_objects 3",
            counting("clock", 4),
            [det("clock", boxes[i], 0.93) for i in range(20)],
            options={"max_objects": 3},
        )
    )
    out.append(
        case(
            "counting threshold 0.3 as in the first release",
            counting("clock", 2),
            [det("clock", boxes[i], 0.5) for i in range(2)],
            options={"counting_threshold": 0.3},
        )
    )
    out.append(case("colour pass", colors("car", "blue"), [det("car", dog, 0.8)], ["blue"]))
    out.append(
        case(
            "colour fail tally",
            colors("car", "blue"),
            [det("car", dog, 0.8), det("car", boxes[3], 0.7)],
            ["green", "blue"],
        )
    )
    out.append(case("colour object missing", colors("car", "blue"), [det("car", dog, 0.2)], ["blue"]))
    out.append(
        case(
            "color_attr first colour wrong",
            color_attr("red", "car", "white", "bus"),
            [det("car", dog, 0.8), det("bus", boxes[5], 0.8)],
            ["pink", "white"],
        )
    )
    out.append(
        case(
            "color_attr both wrong",
            color_attr("red", "car", "white", "bus"),
            [det("car", dog, 0.8), det("bus", boxes[5], 0.8)],
            ["pink", "black"],
        )
    )
    out.append(
        case(
            "color_attr same class twice",
            color_attr("red", "car", "blue", "car"),
            [det("car", dog, 0.8), det("car", boxes[5], 0.7)],
            ["red", "blue"],
        )
    )
    left, right = (0, 200, 100, 300), (300, 200, 400, 300)
    out.append(
        case(
            "position right of pass",
            position("dog", "right of", "cat"),
            [det("cat", left, 0.9), det("dog", right, 0.9)],
        )
    )
    out.append(
        case(
            "position right of fails (left)",
            position("dog", "right of", "cat"),
            [det("cat", right, 0.9), det("dog", left, 0.9)],
        )
    )
    out.append(
        case(
            "position overlapping centres, empty set",
            position("dog", "above", "cat"),
            [det("cat", dog, 0.9), det("dog", (110, 110, 190, 190), 0.9)],
        )
    )
    out.append(
        case(
            "position diagonal gives two relations",
            position("dog", "above", "cat"),
            [det("cat", (0, 0, 10, 10), 0.9), det("dog", (300, 300, 310, 310), 0.9)],
        )
    )
    out.append(case("position reference missing", position("dog", "below", "cat"), [det("dog", right, 0.9)]))
    out.append(case("position object missing", position("dog", "below", "cat"), [det("cat", right, 0.9)]))
    out.append(
        case(
            "position same class both sides",
            position("dog", "left of", "dog"),
            [det("dog", left, 0.9), det("dog", right, 0.8)],
        )
    )
    out.append(
        case(
            "position tie: the later raw detection is used",
            position("dog", "left of", "cat"),
            [det("cat", (200, 0, 300, 100), 0.9), det("dog", left, 0.7), det("dog", right, 0.7)],
        )
    )
    out.append(
        case(
            "position tie reversed raw order",
            position("dog", "left of", "cat"),
            [det("cat", (200, 0, 300, 100), 0.9), det("dog", right, 0.7), det("dog", left, 0.7)],
        )
    )
    out.append(
        case(
            "position with 18 tied references",
            position("dog", "left of", "cat"),
            [det("cat", (200 + i, 0, 300 + i, 100), 0.9) for i in range(18)] + [det("dog", left, 0.7)],
        )
    )
    out.append(
        case(
            "nms suppresses an overlapping duplicate",
            counting("clock", 2),
            [
                det("clock", (0, 0, 100, 100), 0.95),
                det("clock", (5, 5, 100, 100), 0.94),
                det("clock", (200, 0, 300, 100), 0.93),
            ],
            options={"max_overlap": 0.5},
        )
    )
    out.append(
        case(
            "nms off at 1.0 keeps duplicates",
            counting("clock", 2),
            [
                det("clock", (0, 0, 100, 100), 0.95),
                det("clock", (5, 5, 100, 100), 0.94),
                det("clock", (200, 0, 300, 100), 0.93),
            ],
        )
    )
    out.append(
        case(
            "position zero-size boxes 3-4-5",
            position("dog", "right of", "cat"),
            [det("cat", (100, 100, 100, 100), 0.9), det("dog", (103, 104, 103, 104), 0.9)],
        )
    )
    bad = {
        "tag": "position",
        "include": [{"class": "dog", "count": 1, "position": ["left of", 0]}],
        "prompt": "a photo of a dog left of itself",
    }
    out.append(case("position referring to its own group (upstream IndexError)", bad, [det("dog", dog, 0.9)]))
    return out


def random_box(rng: np.random.Generator, size: int = 512) -> tuple[float, float, float, float]:
    kind = rng.integers(4)
    if kind == 0:  # tiny or degenerate
        x, y = rng.uniform(0, size, 2)
        return x, y, x + rng.choice([0, 0.5, 1, 3]), y + rng.choice([0, 0.5, 1, 3])
    w, h = rng.uniform(1, size / 2, 2)
    x, y = rng.uniform(-20, size - w / 2, 2)
    if kind == 1:  # integer pixel boxes
        return float(round(x)), float(round(y)), float(round(x + w)), float(round(y + h))
    return x, y, x + w, y + h


def random_meta(rng: np.random.Generator) -> dict[str, Any]:
    names = list(OBJECT_NAMES)
    a, b = (str(n) for n in rng.choice(names, 2, replace=rng.random() < 0.9))
    ca, cb = (str(c) for c in rng.choice(COLORS, 2))
    tag = int(rng.integers(6))
    if tag == 0:
        return single(a)
    if tag == 1:
        return two(a, b)
    if tag == 2:
        return counting(a, int(rng.integers(2, 5)))
    if tag == 3:
        return colors(a, ca)
    if tag == 4:
        return position(a, str(rng.choice(RELATIONS)), b)
    return color_attr(ca, a, cb, b)


def random_cases(n: int, seed: int) -> list[dict[str, Any]]:
    rng = np.random.default_rng(seed)
    out = []
    for i in range(n):
        meta = random_meta(rng)
        classes = [inc["class"] for inc in meta["include"]] + [str(rng.choice(OBJECT_NAMES))]
        dets, cols = [], []
        for cls in classes:
            k = int(rng.choice([0, 1, 1, 2, 3, 4, 5, 6, 18]))
            tie = F32(rng.choice(BOUNDARY_SCORES)) if rng.random() < 0.3 else None
            for _ in range(k):
                score = (
                    tie
                    if tie is not None
                    else (F32(rng.choice(BOUNDARY_SCORES)) if rng.random() < 0.4 else F32(rng.uniform(0, 1)))
                )
                dets.append(det(cls, random_box(rng), score))
                wanted = [inc.get("color") for inc in meta["include"] if inc["class"] == cls and inc.get("color")]
                cols.append(wanted[0] if wanted and rng.random() < 0.6 else str(rng.choice(COLORS)))
        order = rng.permutation(len(dets))
        dets = [dets[j] for j in order]
        cols = [cols[j] for j in order]
        options: dict[str, float] = {}
        if rng.random() < 0.1:
            options["max_overlap"] = float(rng.choice([0.3, 0.5, 0.8]))
        if rng.random() < 0.1:
            options["position_threshold"] = float(rng.choice([0.0, 0.05, 0.2]))
        out.append(case(f"random {i}", meta, dets, cols, options))
    return out


def position_pairs(n: int, seed: int) -> list[dict[str, Any]]:
    """Box pairs for relative_position, many near the 0.5 boundary and the 1e-3 dead zone."""
    rng = np.random.default_rng(seed)
    pairs = []
    for _ in range(n):
        a = random_box(rng)
        if rng.random() < 0.5:
            angle = rng.choice([np.pi / 3, np.pi / 6, 2 * np.pi / 3, np.pi / 4]) + rng.normal(0, 1e-6)
            dist = rng.uniform(0, 50)
            b = tuple(np.array(a) + np.array([np.cos(angle), np.sin(angle)] * 2) * dist)
        else:
            b = random_box(rng)
        thr = float(rng.choice([0.1, 0.1, 0.0, 0.25]))
        pairs.append({"a": [f(v) for v in a], "b": [f(v) for v in b], "threshold": thr})
    return pairs


def main() -> None:
    cases = hand_cases() + random_cases(400, seed=20261127)
    json.dump({"cases": cases, "position_pairs": position_pairs(3000, seed=7)}, sys.stdout)


if __name__ == "__main__":
    main()
