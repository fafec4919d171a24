"""Stored MinHash signatures and their band keys must stay valid across versions.

The values below were computed with datasketch 2.0's MinHash (scheme "affine32",
seed 20241022, 64 permutations), which the monitor used before it computed
signatures itself: an article stored then must still find its copies now.
"""

from __future__ import annotations

from monitor.model import Document
from monitor.stories.features import NUM_PERM, story_features
from monitor.stories.minhash import Permutations, signature

SHINGLES = [b"karyawan magang tiktok", b"magang tiktok dipecat", b"tiktok dipecat usai", "豆包 字节跳动 模型".encode()]


def test_signature_is_the_one_datasketch_computed() -> None:
    values = signature(SHINGLES, Permutations.create(NUM_PERM, seed=20241022))
    assert len(values) == NUM_PERM
    assert values[:8] == (627067061, 1794416776, 942389872, 1050977644, 158535334, 287115499, 663087555, 680864176)
    assert values[-4:] == (1572942367, 598351157, 468634801, 491111813)


def test_signature_estimates_jaccard_similarity() -> None:
    words = [f"kata{n}".encode() for n in range(400)]
    permutations = Permutations.create(NUM_PERM, seed=20241022)
    a = signature(words[:350], permutations)
    b = signature(words[:300] + words[350:], permutations)
    estimate = sum(x == y for x, y in zip(a, b, strict=True)) / NUM_PERM
    assert abs(estimate - 300 / 400) < 0.2  # true Jaccard 0.75; 64 permutations: sd ~0.05
    assert signature([], permutations) == ()


def test_an_article_without_prose_has_no_signature() -> None:
    assert story_features(Document(title="Doubao", text=""), None).minhash == ()
