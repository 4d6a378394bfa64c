"""Instance identity by --storage.path: the lock, the start-up check of the path, run directories."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pytest

from collector.runtime.instance import InstanceError, claim_instance, instance_id, remove_stale_run_dirs


def test_the_same_storage_path_cannot_be_claimed_twice(tmp_path: Path) -> None:
    first = claim_instance(tmp_path / "data")
    try:
        with pytest.raises(InstanceError) as err:
            claim_instance(tmp_path / "data")
        message = str(err.value)
        assert "another collector is already running" in message
        assert str((tmp_path / "data").resolve()) in message
        assert f"pid {os.getpid()}" in message
    finally:
        first.release()
    again = claim_instance(tmp_path / "data")  # released: the next one may take it
    again.release()


def test_different_paths_are_different_instances(tmp_path: Path) -> None:
    a, b = claim_instance(tmp_path / "a"), claim_instance(tmp_path / "b")
    try:
        assert a.id != b.id
        assert a.id == instance_id((tmp_path / "a").resolve())
    finally:
        a.release()
        b.release()


def test_a_path_that_cannot_be_created_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    with pytest.raises(InstanceError, match="cannot be created") as err:
        claim_instance(blocker / "data")
    assert str(blocker / "data") in str(err.value)


def test_the_lock_is_not_inherited_by_children(tmp_path: Path) -> None:
    instance = claim_instance(tmp_path / "data")
    try:
        assert not os.get_inheritable(instance.lock_fd)
    finally:
        instance.release()


def test_run_dirs_of_a_dead_predecessor_of_this_instance_are_removed(tmp_path: Path) -> None:
    mine = tmp_path / "collector-iabc123-999-x"
    other = tmp_path / "collector-idef456-999-x"
    unrelated = tmp_path / "collector-test-x"
    for path in (mine, other, unrelated):
        (path / "metrics").mkdir(parents=True)
    assert remove_stale_run_dirs("abc123", tmp_path) == [mine]
    assert not mine.exists() and other.exists() and unrelated.exists()


def test_make_run_dir_cleans_up_first(tmp_path: Path) -> None:
    instance = claim_instance(tmp_path / "data")
    stale = Path(tempfile.mkdtemp(prefix=f"collector-i{instance.id}-1-"))
    try:
        fresh = instance.make_run_dir()
        assert not stale.exists()
        assert fresh.name.startswith(f"collector-i{instance.id}-{os.getpid()}-")
        fresh.rmdir()
    finally:
        instance.release()
