"""MinHash signatures of byte strings: datasketch 2.0's "affine32" scheme, bit for bit.

We used datasketch's ``MinHash``; importing it also imports its LSH index and with it
SciPy, 70 MB and a third of a second in every worker process, for an index we do not
use (our LSH bands live in the database). The signature itself is the few lines below,
kept identical to datasketch's so that signatures and band keys stored before stay
valid (tests/test_minhash.py pins known values).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from operator import methodcaller

import numpy as np
import numpy.typing as npt

_U32 = npt.NDArray[np.uint32]
_FMIX32 = (16, 0x85EBCA6B, 13, 0xC2B2AE35, 16)  # MurmurHash3's finalizer constants
_SHA1_WORDS = hashlib.sha1().digest_size // 4  # 32-bit words per digest
_digest = methodcaller("digest")


@dataclass(frozen=True)
class Permutations:
    """``num_perm`` random affine maps h -> a*h + b (mod 2^32), ``a`` odd so each is a bijection."""

    a: _U32
    b: _U32

    @classmethod
    def create(cls, num_perm: int, seed: int) -> Permutations:
        generator = np.random.RandomState(seed)  # the legacy generator: its stream never changes
        a = generator.randint(0, 1 << 31, num_perm, dtype=np.uint32) * np.uint32(2) + np.uint32(1)
        b = generator.randint(0, 1 << 32, num_perm, dtype=np.uint32)
        return cls(a, b)


def signature(items: Iterable[bytes], permutations: Permutations) -> tuple[int, ...]:
    """The minimum of each permutation over the items' hashes; empty when there are no items."""
    # Each item's hash is the first 4 bytes of its SHA-1, little-endian: hash every item
    # in C loops (map), then read every fifth 32-bit word of the 20-byte digests.
    digests = b"".join(map(_digest, map(hashlib.sha1, items)))
    hashes = np.frombuffer(digests, dtype="<u4")[::_SHA1_WORDS].astype(np.uint32)
    if not hashes.size:
        return ()
    shift1, multiply1, shift2, multiply2, shift3 = _FMIX32  # spreads structured input
    hashes ^= hashes >> np.uint32(shift1)
    hashes *= np.uint32(multiply1)
    hashes ^= hashes >> np.uint32(shift2)
    hashes *= np.uint32(multiply2)
    hashes ^= hashes >> np.uint32(shift3)
    permuted = hashes[:, np.newaxis] * permutations.a + permutations.b  # wraps: arithmetic mod 2^32
    return tuple(permuted.min(axis=0).tolist())
