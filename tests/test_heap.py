"""release_free_heap: freed C-heap blocks go back to the system, so a long stream's memory stays flat."""

from __future__ import annotations

import os
import platform
import sys

import pytest

from vbench_lite.heap import release_free_heap


def resident_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


@pytest.mark.skipif(not sys.platform.startswith("linux") or platform.libc_ver()[0] != "glibc",
                    reason="glibc's malloc_trim")
def test_freed_blocks_inside_the_heap_are_given_back():
    # 100 KB blocks sit below malloc's mmap threshold: they live in the heap. Keeping every tenth
    # alive pins the heap, so freeing the rest leaves ~180 MB free but resident, as a long
    # streamed video's buffers did.
    blocks = [bytearray(100_000) for _ in range(2_000)]
    for block in blocks:
        block[::4096] = b"\x01" * len(block[::4096])  # touch every page
    kept = blocks[::10]
    del blocks
    before = resident_bytes()
    assert release_free_heap()
    after = resident_bytes()
    assert before - after > 100e6, (before, after)
    assert len(kept) == 200
