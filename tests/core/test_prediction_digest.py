import hashlib
import json

import pytest

from ming_eval.core.results import Prediction, Status


def _by_definition(pred: Prediction) -> str:
    payload = json.dumps([pred.status.value, pred.output, pred.error, pred.files], sort_keys=True, default=str)
    return hashlib.sha1(payload.encode("utf-8")).hexdigest()[:16]


def test_digests_are_pinned():
    # every stored score names the digest of the prediction it judged: a changed digest would make
    # every score of every past run stale (and re-ask its judge)
    assert Prediction("1", Status.OK, "A").digest == "14ae4840e4d7d599"
    assert Prediction("1", Status.FAILED, None, "boom").digest == "ac19792d68478620"
    assert Prediction("1", Status.OK, ["a.png"], files=[[3, 4]]).digest == "5ab90f349732f27f"


@pytest.mark.parametrize(
    "pred",
    [
        Prediction("a", Status.OK, "B"),
        Prediction("b", Status.OK, 'quo"te \\ new\nline é 中 \u2028'),
        Prediction("c", Status.OK, "x" * 500),  # longer than the short answers kept by text
        Prediction("d", Status.OK, "B", error="a note on a success"),
        Prediction("e", Status.FAILED, "B"),
        Prediction("f", Status.FAILED, None, "boom \u2603"),
        Prediction("g", Status.OK, ["x.png", "y.png"], files=[[1, 2], [3, 4]]),
        Prediction("h", Status.OK, ("tu", "ple")),
    ],
)
def test_a_digest_is_that_of_the_json_of_what_was_predicted_every_time(pred):
    again = Prediction("other id", pred.status, pred.output, pred.error, seed=9, files=pred.files)
    assert pred.digest == again.digest == _by_definition(pred)  # the second from the short answers kept
