import pytest

from ming_eval.errors import TooManyFailuresError
from ming_eval.runner.batching import BatchRunner, is_oom


class OutOfMemoryError(RuntimeError):
    pass


def _runner(fn, batch_size, **kw):
    done, failed, calls = {}, {}, []

    def wrapped(batch):
        calls.append(list(batch))
        return fn(batch)

    r = BatchRunner(
        wrapped, lambda i, res: done.__setitem__(i, res), lambda i, e: failed.__setitem__(i, str(e)), batch_size, **kw
    )
    return r, done, failed, calls


def test_oom_halves_and_keeps_smaller_size():
    def fn(batch):
        if len(batch) > 2:
            raise OutOfMemoryError("CUDA out of memory")
        return [x * 10 for x in batch]

    r, done, failed, calls = _runner(fn, 8)
    stats = r.run(list(range(20)))
    assert done == {i: i * 10 for i in range(20)} and not failed
    assert stats.oom_splits >= 1 and stats.final_batch_size == 2
    assert max(len(c) for c in calls[3:]) <= 2  # after the first split, batches stay small


def test_bad_sample_is_isolated():
    def fn(batch):
        if 5 in batch:
            raise ValueError("corrupt image in sample 5")
        return list(batch)

    r, done, failed, _ = _runner(fn, 4)
    r.run(list(range(10)))
    assert set(done) == set(range(10)) - {5}
    assert "corrupt image" in failed[5]


def test_wrong_result_count_is_a_failure():
    r, _, failed, _ = _runner(lambda b: [1] if len(b) > 1 else [], 4, fail_fast_after=0)
    r.run([1, 2])
    assert set(failed) == {1, 2} and "returned 0 results" in failed[1]


def test_systematic_failure_stops_early():
    r, _, failed, _ = _runner(lambda b: (_ for _ in ()).throw(KeyError("weights")), 4, fail_fast_after=5)
    with pytest.raises(TooManyFailuresError, match="first 5 samples all failed"):
        r.run(list(range(100)))
    assert len(failed) == 5  # the failures are recorded before stopping


def test_max_failures():
    def fn(batch):
        if any(x % 2 for x in batch):
            raise ValueError("odd")
        return list(batch)

    r, _, failed, _ = _runner(fn, 1, max_failures=3)
    with pytest.raises(TooManyFailuresError, match="--max-failures 3"):
        r.run(list(range(20)))
    assert len(failed) == 3


def test_keyboard_interrupt_propagates():
    def fn(batch):
        raise KeyboardInterrupt

    r, _, failed, _ = _runner(fn, 2)
    with pytest.raises(KeyboardInterrupt):
        r.run([1, 2])
    assert not failed


def test_is_oom():
    assert is_oom(OutOfMemoryError("x")) and is_oom(MemoryError()) and is_oom(RuntimeError("CUDA out of memory."))
    assert not is_oom(ValueError("x"))


def test_setup_errors_stop_at_once_without_recording():
    from ming_eval.errors import CheckpointError

    def fn(batch):
        raise CheckpointError("checkpoint org/model is not in the Hugging Face cache")

    r, _, failed, calls = _runner(fn, 4)
    with pytest.raises(CheckpointError):
        r.run(list(range(10)))
    assert not failed and len(calls) == 1


def test_freeing_accelerator_memory_collects_only_where_torch_is_loaded(monkeypatch):
    import gc
    import sys
    import types

    from ming_eval.runner.batching import free_accelerator_memory

    collected = []
    monkeypatch.setattr(gc, "collect", lambda *a: collected.append(1) or 0)
    monkeypatch.delitem(sys.modules, "torch", raising=False)
    free_accelerator_memory()  # an endpoint's client: no tensors, no full collection over the run's objects
    assert collected == []
    fake_torch = types.SimpleNamespace(cuda=types.SimpleNamespace(is_available=lambda: False))
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    free_accelerator_memory()
    assert collected == [1]


def test_on_batch_gets_each_batch_that_succeeded_with_its_results_in_order():
    handed, failed = [], {}

    def fn(batch):
        if 5 in batch:
            raise ValueError("corrupt image in sample 5")
        return [x * 10 for x in batch]

    r = BatchRunner(
        fn,
        None,
        lambda i, e: failed.__setitem__(i, str(e)),
        4,
        on_batch=lambda b, res: handed.append((list(b), list(res))),
    )
    r.run(list(range(10)))
    # the batch holding 5 is bisected: its other items arrive as the smaller batches that succeeded
    assert handed == [([0, 1, 2, 3], [0, 10, 20, 30]), ([4], [40]), ([6, 7], [60, 70]), ([8, 9], [80, 90])]
    assert list(failed) == [5] and r.stats.done == 9


def test_one_of_on_done_and_on_batch():
    with pytest.raises(TypeError, match="one of on_done and on_batch"):
        BatchRunner(list, None, lambda i, e: None, 4)
    with pytest.raises(TypeError, match="one of on_done and on_batch"):
        BatchRunner(list, lambda i, r: None, lambda i, e: None, 4, on_batch=lambda b, r: None)
