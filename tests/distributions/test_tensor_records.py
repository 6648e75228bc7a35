"""TensorRecords: facts found again only for the same unchanged tensor; held blocks."""

import gc
import weakref

import pytest
import torch
from torch.overrides import TorchFunctionMode

from distributions.tensor_records import _DEPTH, TensorRecords, held_records


class _PassThrough(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))


def test_a_fact_is_found_for_the_same_tensor_until_it_changes_in_place():
    records = TensorRecords(8)
    x, y = torch.zeros(3), torch.zeros(3)
    records.put(x, "fact")
    assert records.get(x) == "fact"
    assert records.get(y) is None  # equal contents, another tensor
    x.add_(1.0)
    assert records.get(x) is None
    records.put(x, "again")
    assert records.get(x) == "again"


def test_a_view_changed_in_place_forgets_its_base():
    records = TensorRecords(8)
    x = torch.zeros(4)
    records.put(x, "fact")
    x[1:].mul_(2.0)  # views share the version counter
    assert records.get(x) is None


def test_an_entry_of_a_freed_tensor_is_not_found_for_a_tensor_reusing_its_id():
    records = TensorRecords(8)
    dead = torch.zeros(1)
    stale_ref = weakref.ref(dead)
    del dead
    gc.collect()
    assert stale_ref() is None
    y = torch.zeros(3)
    # What a reused id leaves behind: an entry whose weak reference is dead.
    records._kept[id(y)] = (stale_ref, y._version, "stale")
    assert records.get(y) is None


def test_recording_a_tensor_again_keeps_its_weak_reference():
    records = TensorRecords(8)
    x = torch.zeros(2)
    records.put(x, "first")
    ref = records._kept[id(x)][0]
    x.add_(1.0)
    records.put(x, "second")
    assert records._kept[id(x)][0] is ref
    assert records.get(x) == "second"


def test_the_limit_empties_the_map_rather_than_growing_it():
    records = TensorRecords(4)
    kept = [torch.zeros(1) for _ in range(10)]
    for t in kept:
        records.put(t, "fact")
    assert len(records) <= 4
    assert records.get(kept[-1]) == "fact"


def test_held_transient_entries_hold_the_tensor_until_the_outermost_block_exits():
    records = TensorRecords(8)
    with held_records():
        assert _DEPTH[0] == 1
        x = torch.zeros(3)
        ref = weakref.ref(x)
        records.put(x, "drawn", transient=True)
        assert id(x) in records._held and id(x) not in records._kept
        with held_records():
            pass
        assert records.get(x) == "drawn"  # the inner exit releases nothing
        del x
        gc.collect()
        assert ref() is not None  # held strongly: its id cannot be reused
    assert _DEPTH[0] == 0
    gc.collect()
    assert ref() is None
    assert len(records) == 0


def test_a_later_fact_about_a_held_tensor_replaces_the_held_one():
    records = TensorRecords(8)
    with held_records():
        x = torch.zeros(3)
        records.put(x, "drawn", transient=True)
        records.put(x, "checked")  # not transient, but the tensor is held already
        assert records.get(x) == "checked"
        assert id(x) not in records._kept


def test_outside_a_block_a_transient_entry_is_kept_with_a_weak_reference():
    records = TensorRecords(8)
    x = torch.zeros(3)
    records.put(x, "drawn", transient=True)
    assert id(x) in records._kept
    with held_records():
        y = torch.zeros(3)
        records.put(y, "data")  # not transient: outlives the block
    assert records.get(y) == "data"


def test_an_exception_in_a_block_still_releases_what_it_held():
    records = TensorRecords(8)
    x = torch.zeros(1)
    with pytest.raises(KeyError), held_records():
        records.put(x, "drawn", transient=True)
        raise KeyError("boom")
    assert _DEPTH[0] == 0
    assert records.get(x) is None


def test_a_torch_function_mode_sees_no_version_read():
    records = TensorRecords(8)
    x = torch.zeros(2)
    records.put(x, "fact")
    with _PassThrough():
        assert records.get(x) is None
        records.put(torch.ones(2), "ignored")
    assert len(records) == 1
    assert records.get(x) == "fact"
