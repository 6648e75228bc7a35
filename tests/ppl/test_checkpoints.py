"""Checkpoints under damage (issue 16): killed saves, failed loads, truncation, flipped bytes."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest
import torch

import ppl
from distributions import constraints
from ppl import ParamStore
from ppl.checkpoint_io import stale_temp_files


def _small_store():
    store = ParamStore()
    store.get_param("s", torch.tensor([2.0, 3.0]), constraint=constraints.positive)
    store.get_param("b", torch.tensor(0.5), constraint=constraints.interval(0.0, 2.0))
    store.get_param("w", torch.tensor([[1.0, -1.0]]), event_dim=1)
    return store


def _snapshot(store):
    return {
        name: (store.get_unconstrained(name), store.get_constraint(name), store.get_event_dim(name))
        for name in store.keys()
    }


def _same_state(store, expected):
    got = _snapshot(store)
    return list(got) == list(expected) and all(
        torch.equal(got[n][0], expected[n][0])
        and got[n][0].dtype == expected[n][0].dtype
        and repr(got[n][1]) == repr(expected[n][1])
        and got[n][2] == expected[n][2]
        for n in got
    )


def _dead_pid():
    # A process that has exited (and been reaped): its pid names no process.
    child = subprocess.Popen([sys.executable, "-c", ""])
    child.wait()
    return child.pid


def test_stale_temp_files_of_the_same_target_are_removed_on_the_next_save(tmp_path):
    path = tmp_path / "params.pt"
    dead = tmp_path / f".params.pt.ppl-tmp-{_dead_pid()}-abc.tmp"
    alive = tmp_path / f".params.pt.ppl-tmp-{os.getppid()}-abc.tmp"  # our parent is running
    other_target = tmp_path / f".other.pt.ppl-tmp-{_dead_pid()}-abc.tmp"
    for f in (dead, alive, other_target):
        f.write_bytes(b"x" * 100)
    assert stale_temp_files(path) == [str(dead)]
    _small_store().save(path)
    assert sorted(os.listdir(tmp_path)) == sorted([alive.name, other_target.name, "params.pt"])


_KILLED_SAVER = textwrap.dedent(
    """
    import sys, time, torch
    import ppl

    def slow_save(obj, f):
        f.write(b"half a checkpoint")
        f.flush()
        time.sleep(600)  # killed here, mid-write

    ppl.param("w", torch.zeros(3))
    torch.save = slow_save
    ppl.get_param_store().save(sys.argv[1])
    """
)


@pytest.mark.slow  # starts a Python that imports torch
@pytest.mark.skipif(os.name != "posix", reason="SIGKILL and pid probes are POSIX")
def test_a_save_killed_mid_write_leaves_a_temp_file_the_next_save_removes(tmp_path):
    path = tmp_path / "params.pt"
    env = {**os.environ, "PYTHONPATH": os.getcwd()}
    saver = subprocess.Popen([sys.executable, "-c", _KILLED_SAVER, str(path)], env=env)
    deadline = time.monotonic() + 120  # importing torch on a loaded machine takes seconds
    while not any(n.endswith(".tmp") for n in os.listdir(tmp_path)):
        assert saver.poll() is None and time.monotonic() < deadline, "the saver never started"
        time.sleep(0.05)
    saver.send_signal(signal.SIGKILL)
    saver.wait()
    assert len(stale_temp_files(path)) == 1  # what a kill leaves behind
    _small_store().save(path)
    assert os.listdir(tmp_path) == ["params.pt"]


def test_a_failed_load_leaves_the_store_exactly_as_it_was(tmp_path):
    store = _small_store()
    before = _snapshot(store)
    # The first entry is fine, the second is not a valid parameter: nothing may change.
    path = tmp_path / "bad.pt"
    payload = {
        "format": "ppl.param_store",
        "version": 1,
        "params": {"s": torch.tensor([9.0, 9.0]), "n": torch.tensor([1, 2])},
        "constraints": {},
        "event_dims": {},
        "extra": None,
    }
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"param 'n' has dtype torch.int64; a learnable parameter"):
        store.load(path)
    assert _same_state(store, before)
    payload["params"]["n"] = torch.tensor([1.0])
    payload["event_dims"] = {"s": -1}
    torch.save(payload, path)
    with pytest.raises(ValueError, match=r"param 's' has event_dim -1; expected None or an int"):
        store.load(path)
    assert _same_state(store, before)
    assert all(store.get_unconstrained(n) is before[n][0] for n in before)


def test_truncated_files_raise_value_error_naming_the_file(tmp_path):
    path = tmp_path / "params.pt"
    _small_store().save(path)
    data = path.read_bytes()
    cut = tmp_path / "cut.pt"
    for length in range(0, len(data), 37):
        cut.write_bytes(data[:length])
        with pytest.raises(ValueError, match=f"'{cut}'"):
            ParamStore().load(cut)


def test_a_missing_file_is_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError):
        ParamStore().load(tmp_path / "nothing.pt")


def _flip_bytes(tmp_path, step):
    """Flips every ``step``-th byte of a small checkpoint, one at a time, and loads it.

    Each load must raise a ValueError naming the file or return exactly the
    saved values. Exhaustive over the chosen bytes: no statistics, no false alarms.
    """
    store = _small_store()
    expected = _snapshot(store)
    path = tmp_path / "params.pt"
    store.save(path, extra={"step": 3, "lr": torch.tensor(0.1)})
    data = path.read_bytes()
    flipped = tmp_path / "flipped.pt"
    caught = 0
    for i in range(0, len(data), step):
        flipped.write_bytes(data[:i] + bytes([data[i] ^ 0xFF]) + data[i + 1 :])
        loaded = ParamStore()
        try:
            extra = loaded.load(flipped)
        except ValueError as e:
            assert str(flipped) in str(e)
            caught += 1
            continue
        assert _same_state(loaded, expected), f"byte {i} flipped: different values loaded"
        assert extra["step"] == 3 and torch.equal(extra["lr"], torch.tensor(0.1))
    # About half the bytes are zip alignment padding, which nobody reads.
    assert caught > len(range(0, len(data), step)) // 3


def test_single_byte_flips_are_caught_or_harmless(tmp_path):
    _flip_bytes(tmp_path, step=13)


@pytest.mark.slow
def test_every_single_byte_flip_is_caught_or_harmless(tmp_path):
    _flip_bytes(tmp_path, step=1)


def test_a_tampered_file_fails_its_checksum(tmp_path):
    path = tmp_path / "params.pt"
    _small_store().save(path)
    payload = torch.load(path, weights_only=True)
    payload["params"]["s"] = payload["params"]["s"] + 1.0
    torch.save(payload, path)
    with pytest.raises(ValueError, match="does not match the checksum saved with it"):
        ParamStore().load(path)


def test_checkpoints_written_before_the_checksum_still_load(tmp_path):
    # The layout version 1 wrote: no checksum entry.
    path = tmp_path / "old.pt"
    torch.save(
        {
            "format": "ppl.param_store",
            "version": 1,
            "params": {"s": torch.tensor([0.0, 1.0])},
            "constraints": {"s": {"name": "positive"}},
            "event_dims": {"s": None},
            "extra": {"step": 7},
        },
        path,
    )
    extra = ppl.get_param_store().load(path)
    assert extra == {"step": 7}
    assert torch.allclose(ppl.param("s"), torch.tensor([1.0, 1.0]).exp() ** torch.tensor([0, 1]))
