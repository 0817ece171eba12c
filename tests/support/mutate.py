"""Mutated copies of a real input for the fuzz tests (issue 19): a few byte flips, insertions
of characters that matter to the format, deletions and duplicated lines."""

from __future__ import annotations

from collections.abc import Sequence

from hypothesis import strategies as st

#: Pieces that matter to CSV, YAML, JSON and XML readers, and bytes that are not UTF-8.
PIECES: tuple[bytes, ...] = (
    b'"', b"'", b",", b";", b"\t", b"\n", b"\r", b"#", b"\x00", b"\xff", b"\xe9",
    b"\xef\xbb\xbf", b"*a", b"&a ", b"[", b"]", b"{", b"}", b"\n- ", b": ", b"<", b">",
    b"&amp;", b"</organisatie>", b"<organisatie>", b"<!ENTITY a 'x'>",
)  # fmt: skip


@st.composite
def mutated(draw: st.DrawFn, seed: bytes, pieces: Sequence[bytes] = PIECES, most: int = 6) -> bytes:
    """``seed`` changed in 1 to ``most`` places."""
    blob = bytearray(seed)
    for _ in range(draw(st.integers(1, most))):
        pos = draw(st.integers(0, max(0, len(blob) - 1)))
        action = draw(st.sampled_from(("flip", "insert", "delete", "duplicate")))
        if action == "flip" and blob:
            blob[pos] = draw(st.integers(0, 255))
        elif action == "insert":
            blob[pos:pos] = draw(st.sampled_from(list(pieces)))
        elif action == "delete":
            del blob[pos : pos + draw(st.integers(1, 40))]
        else:
            end = blob.find(b"\n", pos)
            blob[pos:pos] = bytes(blob[pos : end + 1 if end >= 0 else len(blob)])
    return bytes(blob)
