"""Fixed vocabulary of GenEval (djghosh13/geneval at commit af4902f): tags, colours, relations, classes.

``OBJECT_NAMES`` is COCO's 80 thing classes in mmdet's class-index order, spelled as GenEval spells
them; a detector label ``i`` means ``OBJECT_NAMES[i]``. Written out as a file (one name per line,
trailing newline) it is byte-identical to upstream's ``object_names.txt`` (checked by its sha256 in
the tests).
"""

from __future__ import annotations

#: the prompt file's name (its URL and sha256 are pinned in the task card, tasks/geneval.yaml)
METADATA_FILE = "evaluation_metadata.jsonl"
OBJECT_NAMES_SHA256 = "608f6a0e5c8ca1c7a92b818430141fe268c85b7930b50f4160f1d65893b5bacd"

#: the six tags, in the order of the prompt file and of the paper's tables
TAGS: tuple[str, ...] = ("single_object", "two_object", "counting", "colors", "position", "color_attr")

#: column headers of the paper's Table 3 (as Ming-Lite-Uni and Janus-Pro print them), by tag
TABLE_COLUMNS: dict[str, str] = {
    "single_object": "Single Obj.",
    "two_object": "Two Obj.",
    "counting": "Counting",
    "colors": "Colors",
    "position": "Position",
    "color_attr": "Color Attri.",
    "overall": "Overall",
}

#: the colour vocabulary of the zero-shot classifier, in upstream's order (argmax ties pick the first)
COLORS: tuple[str, ...] = ("red", "orange", "yellow", "green", "blue", "purple", "pink", "brown", "black", "white")

#: relation names as they appear in the metadata; image y grows downwards
RELATIONS: tuple[str, ...] = ("left of", "right of", "above", "below")

#: the prompt templates of the colour classifier; ``{c}`` is the colour, ``{cls}`` the object class
COLOR_TEMPLATES: tuple[str, ...] = (
    "a photo of a {c} {cls}",
    "a photo of a {c}-colored {cls}",
    "a photo of a {c} object",
)

OBJECT_NAMES: tuple[str, ...] = (
    "person",
    "bicycle",
    "car",
    "motorcycle",
    "airplane",
    "bus",
    "train",
    "truck",
    "boat",
    "traffic light",
    "fire hydrant",
    "stop sign",
    "parking meter",
    "bench",
    "bird",
    "cat",
    "dog",
    "horse",
    "sheep",
    "cow",
    "elephant",
    "bear",
    "zebra",
    "giraffe",
    "backpack",
    "umbrella",
    "handbag",
    "tie",
    "suitcase",
    "frisbee",
    "skis",
    "snowboard",
    "sports ball",
    "kite",
    "baseball bat",
    "baseball glove",
    "skateboard",
    "surfboard",
    "tennis racket",
    "bottle",
    "wine glass",
    "cup",
    "fork",
    "knife",
    "spoon",
    "bowl",
    "banana",
    "apple",
    "sandwich",
    "orange",
    "broccoli",
    "carrot",
    "hot dog",
    "pizza",
    "donut",
    "cake",
    "chair",
    "couch",
    "potted plant",
    "bed",
    "dining table",
    "toilet",
    "tv",
    "laptop",
    "computer mouse",
    "tv remote",
    "computer keyboard",
    "cell phone",
    "microwave",
    "oven",
    "toaster",
    "sink",
    "refrigerator",
    "book",
    "clock",
    "vase",
    "scissors",
    "teddy bear",
    "hair drier",
    "toothbrush",
)

CLASS_INDEX: dict[str, int] = {name: i for i, name in enumerate(OBJECT_NAMES)}

#: images per prompt when neither the model card's protocol nor the task options say otherwise
DEFAULT_IMAGES_PER_PROMPT = 4
