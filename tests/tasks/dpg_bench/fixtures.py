"""Hand-built DPG-Bench cases: question CSVs in the real format and the VQA answers for every tile.

Shared by the tests and by ``make_upstream_reference.py``, which runs ELLA's own script on exactly
these cases (see that file). Each scenario is a CSV, answers per (prompt, tile, question), and the
prompts whose image is missing or corrupt.
"""

from __future__ import annotations

from dataclasses import dataclass

from ming_eval.testing.fixtures.dpg_bench import FixturePrompt, QuestionRow, csv_text, write_csv

__all__ = ["FixturePrompt", "QuestionRow", "csv_text", "write_csv"]


@dataclass(frozen=True)
class Scenario:
    name: str
    prompts: list[FixturePrompt]
    #: item_id -> per tile, proposition_id -> answer text
    answers: dict[str, list[dict[int, str]]]
    #: prompts with no image file at all
    missing: tuple[str, ...] = ()
    #: prompts whose image file is not an image
    corrupt: tuple[str, ...] = ()
    tiles: int = 4
    resolution: int = 8


def same(tile: dict[int, str], n: int = 4) -> list[dict[int, str]]:
    return [dict(tile) for _ in range(n)]


# --- scenario "main": the first row is a leaf; order-dependent zeroing; last-tile categories ------

MAIN_PROMPTS = [
    FixturePrompt(
        "12",  # numeric item ids stay strings beside the others (pandas keeps the column as text)
        'A black cat sleeping on a "cozy" sofa, in a photo.',
        [
            (1, "0", "global - (photo)", "Is this a photo?"),  # the row upstream never reads
            (2, "0", "entity - whole (cat)", "Is there a cat?"),
            (3, "2", "attribute - color (cat, black)", "Is the cat black?"),
            (4, "0", "entity - whole (sofa)", "Is there a sofa?"),
            (5, "2,4", "relation - spatial (cat, sofa, on)", "Is the cat on the sofa?"),
        ],
        keywords="cat, sofa",
    ),
    FixturePrompt(
        "7",
        "A dog with a leather collar, and two red balls.",
        [
            (1, "0", "entity - whole (dog)", "Is there a dog?"),
            (2, "3", "attribute - texture (collar, leather)", "Is the collar leather?"),  # parent comes later
            (3, "1", "entity - part (dog's collar)", "Does the dog have a collar?"),
            (4, "0", "entity - whole (ball)", "Is there a ball?"),
            (5, "4", "attribute - color (ball, red)", "Is the ball red?"),
            (6, "5", "other - count (ball, ==2)", "Are there two balls?"),  # grandchild of 4
        ],
    ),
    FixturePrompt(
        "countbench3",
        "Three green apples on a table, a still life.",
        [
            (1, "0", "entity - whole (apple)", "Are there apples?"),
            (2, "1", "other - count (apple, ==3)", "Are there three apples?"),
            (3, "1", "attribute - color (apple, green)", "Are the apples green?"),
            (4, "0", "global - (still life)", "Is this a still life?"),
        ],
    ),
    FixturePrompt(
        "midjourney5",
        "A lighthouse,\nat dusk, beside a boat.",  # a quoted field across two lines
        [
            (1, "0", "entity - whole (lighthouse)", "Is there a lighthouse?"),
            (2, "0", "entity - whole (boat)", "Is there a boat?"),
            (3, "1, 2", "relation - spatial (lighthouse, boat, beside)", "Is the lighthouse beside the boat?"),
            (4, "0", "global - (dusk)", "Is it dusk?"),
        ],
    ),
    FixturePrompt(
        "partiprompts97",
        "A man holding an umbrella.",
        [
            (1, "0", "entity - whole (man)", "Is there a man?"),
            (2, "1", "relation - non-spatial (man, umbrella, hold)", "Is the man holding an umbrella?"),
        ],
    ),
    FixturePrompt(
        "vrd4",
        "A bird on a wire.",
        [(1, "0", "entity - whole (bird)", "Is there a bird?")],
    ),
    FixturePrompt(
        "whoops2",
        "A penguin in the desert.",
        [
            (1, "0", "entity - whole (penguin)", "Is there a penguin?"),
            (2, "0", "entity - state (desert, sandy)", "Is the ground sandy?"),
            (3, "1,2", "relation - non-spatial (penguin, desert, stand in)", "Is the penguin standing in the desert?"),
        ],
    ),
]

MAIN = Scenario(
    name="main",
    prompts=MAIN_PROMPTS,
    answers={
        "12": [
            {1: "no", 2: "yes", 3: "yes", 4: "yes", 5: "yes"},
            {1: "no", 2: "no", 3: "yes", 4: "yes", 5: "yes"},
            {1: "yes", 2: "yes", 3: "no", 4: "no", 5: "yes"},
            {1: "no", 2: "yes", 3: "yes", 4: "yes", 5: "no"},
        ],
        "7": [
            {1: "no", 2: "yes", 3: "yes", 4: "no", 5: "yes", 6: "yes"},
            {1: "yes", 2: "yes", 3: "yes", 4: "yes", 5: "yes", 6: "yes"},
            {1: "yes", 2: "yes", 3: "no", 4: "yes", 5: "no", 6: "yes"},
            {1: "no", 2: "yes", 3: "yes", 4: "no", 5: "yes", 6: "yes"},
        ],
        "countbench3": [
            {1: "yes", 2: "yes", 3: "yes", 4: "yes"},
            {1: "Yes", 2: "yes", 3: "no", 4: "yes"},
            {1: "yes", 2: "yes.", 3: "yes", 4: "no"},
            {1: "no", 2: "yes", 3: "yes", 4: " yes"},
        ],
        "midjourney5": same({1: "yes", 2: "yes", 3: "yes", 4: "yes"}),
        "whoops2": [
            {1: "yes", 2: "no", 3: "yes"},
            {1: "yes", 2: "yes", 3: "yes"},
            {1: "no", 2: "yes", 3: "no"},
            {1: "yes", 2: "yes", 3: "no"},
        ],
    },
    missing=("partiprompts97",),
    corrupt=("vrd4",),
)

# --- scenario "parent_first": the skipped first row is a parent -----------------------------------

PARENT_FIRST_PROMPTS = [
    FixturePrompt(
        "12",
        "A cat on a sofa, indoors.",
        [
            (1, "0", "entity - whole (cat)", "Is there a cat?"),  # never read by upstream
            (2, "0", "entity - whole (sofa)", "Is there a sofa?"),
            (3, "2,1", "relation - spatial (cat, sofa, on)", "Is the cat on the sofa?"),
            (4, "0", "global - (indoor)", "Is this indoors?"),
        ],
    ),
    FixturePrompt(
        "partiprompts7",  # with only numeric ids pandas would read item_id as int and match no image
        "A red kite.",
        [
            (1, "0", "entity - whole (kite)", "Is there a kite?"),
            (2, "1", "attribute - color (kite, red)", "Is the kite red?"),
        ],
    ),
]

_KITE = [
    {1: "yes", 2: "yes"},
    {1: "yes", 2: "no"},
    {1: "no", 2: "yes"},
    {1: "yes", 2: "yes"},
]

#: one tile finds a sofa, so question 3 reaches parent 1: upstream raises KeyError, drops "12"
PARENT_FIRST_DROPPED = Scenario(
    name="parent_first_dropped",
    prompts=PARENT_FIRST_PROMPTS,
    answers={
        "12": [
            {1: "yes", 2: "no", 3: "yes", 4: "yes"},
            {1: "yes", 2: "no", 3: "yes", 4: "yes"},
            {1: "yes", 2: "yes", 3: "yes", 4: "yes"},
            {1: "yes", 2: "no", 3: "yes", 4: "yes"},
        ],
        "partiprompts7": _KITE,
    },
)

#: no tile finds a sofa: the parent loop stops at 2 before it reaches 1, and "12" is scored
PARENT_FIRST_KEPT = Scenario(
    name="parent_first_kept",
    prompts=PARENT_FIRST_PROMPTS,
    answers={
        "12": [
            {1: "yes", 2: "no", 3: "yes", 4: "yes"},
            {1: "yes", 2: "no", 3: "yes", 4: "no"},
            {1: "yes", 2: "no", 3: "yes", 4: "yes"},
            {1: "yes", 2: "no", 3: "no", 4: "yes"},
        ],
        "partiprompts7": _KITE,
    },
)

# --- scenario "single_first": the first prompt has one question, the skipped row ------------------

SINGLE_FIRST = Scenario(
    name="single_first",
    prompts=[
        FixturePrompt("a1", "A tree.", [(1, "0", "entity - whole (tree)", "Is there a tree?")]),
        FixturePrompt(
            "b2",
            "A blue car.",
            [
                (1, "0", "entity - whole (car)", "Is there a car?"),
                (2, "1", "attribute - color (car, blue)", "Is the car blue?"),
                # a comma list somewhere keeps pandas from reading the dependency column as int
                (3, "1,2", "relation - spatial (car, road, on)", "Is the blue car on a road?"),
            ],
        ),
    ],
    answers={
        "a1": same({1: "yes"}),
        "b2": [
            {1: "yes", 2: "yes", 3: "yes"},
            {1: "yes", 2: "no", 3: "yes"},
            {1: "yes", 2: "yes", 3: "no"},
            {1: "no", 2: "yes", 3: "yes"},
        ],
    },
)

SCENARIOS = [MAIN, PARENT_FIRST_DROPPED, PARENT_FIRST_KEPT, SINGLE_FIRST]
