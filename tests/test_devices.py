import pytest

from ming_eval.devices import check_device
from ming_eval.errors import MingEvalError


@pytest.mark.parametrize("name", [None, "auto", "cpu"])
def test_usable_devices_pass(name: str | None) -> None:
    check_device(name)


@pytest.mark.parametrize("name", ["gpu", "cuda:", "cpu:", "cuda:x", "cuda:\u00b2", "cuda:-1"])
def test_malformed_names_are_one_line_errors(name: str) -> None:
    with pytest.raises(MingEvalError, match="is not a device"):
        check_device(name)


def test_cpu_has_no_index() -> None:
    with pytest.raises(MingEvalError, match="no index"):
        check_device("cpu:0")
