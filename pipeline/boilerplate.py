"""Per-outlet boilerplate: sentences an outlet puts on many of its pages, learned and stripped.

A promo line, a newsletter prompt or a standing credit recurs at the edges of an outlet's
articles. Left in, it hides a copy (it is absent from the other outlets' copies) or fakes
one (two short items of one outlet share it). A sentence is learned as boilerplate when it
sits near the start or end of articles of one outlet that are otherwise different; it is
then removed everywhere in that outlet's texts, whole lines and sentences alike.
"""

from __future__ import annotations

import hashlib
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

__all__ = [
    "EdgeSentence",
    "edge_sentences",
    "learn_boilerplate",
    "fold_sentence",
    "sentence_digest",
    "sentences",
    "strip_all",
    "strip_boilerplate",
]

EDGE_SENTENCES = 3  # sentences at each end of an article where boilerplate is looked for
MIN_SENTENCE_CHARS = 12  # shorter fragments ("Share", "AP") carry too little to learn from
_CONTEXT_LINES = 4  # longest lines an article's context is taken from
_MAX_STRIP_PASSES = 4  # a stack of boilerplate deeper than this many edges stays
_TAIL_CHARS = 1200  # how far from a line's end its last sentences are looked for
# A sentence ends at . ! or ? (maybe followed by a closing quote) before a space.
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'\u201d\u2019)]*\s+")


@dataclass(frozen=True, slots=True)
class EdgeSentence:
    """A sentence near an article's edge: the unit boilerplate is learned from.

    `context` identifies the article's own content (its longest inner line other than the
    sentence's), so two revisions of one article count once, two different articles twice.
    """

    key: str  # the folded sentence (fold_sentence): what boilerplate sets hold
    sentence: str  # as written
    context: str  # compared for equality only: kept as written
    at_end: bool  # found among the last sentences (else the first)

    def digest(self) -> int:
        """A stable signed 64-bit hash of the key, for storing (see sentence_digest)."""
        return sentence_digest(self.key)


def sentences(line: str) -> list[str]:
    """The sentences of one line, as written (no normalisation)."""
    return [s for s in (p.strip() for p in _SENTENCE_END.split(line)) if s]


def fold_sentence(sentence: str) -> str:
    """A sentence's casefolded words: two sentences are the same boilerplate when equal.

    Lighter than normalise_text on purpose: it runs on every edge sentence of every text.
    """
    return " ".join(sentence.casefold().split())


def sentence_digest(key: str) -> int:
    """A stable signed 64-bit hash of a folded sentence (DuckDB BIGINT)."""
    digest = hashlib.blake2b(key.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "little", signed=True)


def _line_head(line: str, n: int) -> tuple[list[str], str]:
    """The first n sentences of a line and the rest of it, splitting no further."""
    pieces = _SENTENCE_END.split(line, maxsplit=n)
    if len(pieces) > n:
        return pieces[:n], pieces[n]
    return pieces, ""


def _line_tail(line: str, n: int) -> tuple[str, list[str]]:
    """The start of a line and its last n sentences, looking only at its last characters
    (a paragraph can be a whole article when an extraction lost the line breaks)."""
    window = line[-_TAIL_CHARS:]
    pieces = _SENTENCE_END.split(window)
    prefix = line[: len(line) - len(window)]
    if prefix:  # the window's first piece may be a partial sentence: never a candidate
        prefix, pieces = prefix + pieces[0], pieces[1:]
    cut = max(len(pieces) - n, 0)
    rest = " ".join([prefix, *pieces[:cut]]) if prefix else " ".join(pieces[:cut])
    return rest, pieces[cut:]


def _head_sentences(lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in lines:
        if len(out) >= EDGE_SENTENCES:
            break
        out.extend(s for s in _line_head(line, EDGE_SENTENCES - len(out))[0] if s.strip())
    return out[:EDGE_SENTENCES]


def _tail_sentences(lines: Sequence[str]) -> list[str]:
    out: list[str] = []
    for line in reversed(lines):
        if len(out) >= EDGE_SENTENCES:
            break
        out[:0] = [s for s in _line_tail(line, EDGE_SENTENCES - len(out))[1] if s.strip()]
    return out[-EDGE_SENTENCES:]


def edge_sentences(text: str) -> list[EdgeSentence]:
    """The distinct sentences among the first and last EDGE_SENTENCES of a text.

    Only the ends of the text are split, so the cost does not grow with the text.
    """
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    inner = lines[EDGE_SENTENCES:-EDGE_SENTENCES] or lines
    longest = sorted(inner, key=len, reverse=True)[:_CONTEXT_LINES]
    out: dict[str, EdgeSentence] = {}
    head = [(s, False) for s in _head_sentences(lines)]
    tail = [(s, True) for s in _tail_sentences(lines)]
    for s, at_end in head + tail:
        s = s.strip()
        if len(s) >= MIN_SENTENCE_CHARS:
            key = fold_sentence(s)
            # The context is the article's longest line that is not this sentence's own.
            context = next((line for line in longest if s not in line), text)
            out.setdefault(key, EdgeSentence(key, s, context, at_end))
    return list(out.values())


def learn_boilerplate(
    articles: Iterable[tuple[str, Sequence[EdgeSentence]]], *, min_articles: int
) -> dict[str, frozenset[str]]:
    """Boilerplate sentence keys per outlet, from (outlet, edge sentences) per article: the
    edge sentences met in at least `min_articles` articles of the outlet whose contexts
    differ."""
    contexts: dict[tuple[str, str], set[str]] = defaultdict(set)
    for outlet, edges in articles:
        for edge in edges:
            contexts[(outlet, edge.key)].add(edge.context)
    learned: dict[str, set[str]] = defaultdict(set)
    for (outlet, key), seen in contexts.items():
        if len(seen) >= min_articles:
            learned[outlet].add(key)
    return {outlet: frozenset(keys) for outlet, keys in learned.items()}


def _cut(text: str, sentence: str, at_end: bool) -> str:
    """The text without one occurrence of the sentence (the last one if at_end)."""
    i = text.rfind(sentence) if at_end else text.find(sentence)
    if i < 0:
        return text
    left, right = text[:i].rstrip(" \t"), text[i + len(sentence) :].lstrip(" \t")
    glue = " " if left and right and left[-1] != "\n" and right[0] != "\n" else ""
    return left + glue + right


def strip_boilerplate(
    text: str, keys: frozenset[str] | set[str], *, edges: Sequence[EdgeSentence] | None = None
) -> str:
    """The text without its edge sentences whose key is in `keys` (learned boilerplate);
    lines left empty go. `edges` may pass the text's edge sentences when already known.

    Stripping can expose more boilerplate at an edge (promo, newsletter prompt, credits),
    so when a whole edge was boilerplate it looks again.
    """
    if not keys:
        return text
    for _ in range(_MAX_STRIP_PASSES):
        edges = edge_sentences(text) if edges is None else edges
        found = [e for e in edges if e.key in keys]
        if not found:
            break
        for edge in found:
            text = _cut(text, edge.sentence, edge.at_end)
        text = "\n".join(line.strip() for line in text.splitlines() if line.strip())
        if len(found) < EDGE_SENTENCES:
            break
        edges = None
    return text


def strip_all(
    articles: Sequence[tuple[str, str]], *, min_articles: int
) -> list[str]:
    """Learn each outlet's boilerplate from (outlet, text) pairs and strip it from them;
    a text none of whose edge sentences was learned is returned as it is."""
    edges = [edge_sentences(text) for _, text in articles]
    learned = learn_boilerplate(
        ((outlet, e) for (outlet, _), e in zip(articles, edges, strict=True)),
        min_articles=min_articles,
    )
    return [
        strip_boilerplate(text, learned.get(outlet, frozenset()), edges=own)
        for (outlet, text), own in zip(articles, edges, strict=True)
    ]
