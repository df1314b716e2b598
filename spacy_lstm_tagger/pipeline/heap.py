"""glibc's heap in training: memory that is freed is given back.

glibc serves an allocation of at least M_MMAP_THRESHOLD bytes (128 KiB at first)
with mmap, and returns it to the system when it is freed. But each time such a
block is freed, glibc raises the threshold to its size (up to 32 MiB), so from
then on torch's tensors of a few MiB come from the heap. Training batches have
ever-new shapes, and those tensors leave the heap fragmented and growing:
training on 2,000 EWT sentences grew by some 30 MB an epoch. Setting the threshold fixes it
where it starts (and switches off the raising), so that large tensors keep
going back to the system. Elsewhere than on glibc this does nothing.
"""
import ctypes
import platform

M_MMAP_THRESHOLD = -3  # mallopt's parameter number, from glibc's malloc.h
MMAP_THRESHOLD = 128 * 1024  # glibc's own starting value

_done = False


def keep_mmap_threshold() -> None:
    """Once per process: fix glibc's mmap threshold at its starting value."""
    global _done
    if _done:
        return
    _done = True
    if platform.system() == "Linux" and platform.libc_ver()[0] == "glibc":
        ctypes.CDLL(None).mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)
