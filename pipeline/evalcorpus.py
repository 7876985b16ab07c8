"""The labelled evaluation corpus for dedup, and the pairwise scores it is judged by.

The corpus is synthetic and deterministic (a seed gives the same documents on every
machine): events, each written up one or more times in different words that share the
event's names, quotes and background paragraph (the hard negatives), and each write-up
copied by wire outlets with edits of controlled strength (a new dateline and headline, cut
paragraphs, an editor's note, reworded words, typos and OCR noise, the outlet's promo line
and credits). It scales to 100k documents in seconds.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import numpy as np

from .dedup import Document

__all__ = [
    "CorpusSpec",
    "LabelledDoc",
    "Scores",
    "corpus_digest",
    "generate_corpus",
    "pairwise_scores",
]

# Frequent English words at the top of the Zipf ranks, so unrelated texts share the
# trigrams real texts share ("of the", "said on").
_FUNCTION_WORDS = (
    "the of and to a in that is for on said with as was by at it from be has have are "
    "its an will which their were this but not had after also would been more than who "
    "they over about two new into up one last year he she we could our other after while "
    "before under talks officials minister government week people told added"
).split()
_CONSONANTS = "b c d f g h j k l m n p r s t v w z br ch st tr pl gr sh th".split()
_VOWELS = "a e i o u ai ea ou io".split()
_MONTHS = "Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec".split()
_OCR_CONFUSIONS = {"m": "rn", "l": "1", "o": "0", "e": "c", "i": "l", "s": "5", "a": "o"}
_VOCABULARY_SIZE = 8000
_ZIPF_EXPONENT = 1.05
_START = datetime(2026, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class CorpusSpec:
    """What to generate; the defaults are the corpus the accuracy floors are pinned on."""

    n_docs: int = 2000
    seed: int = 20261123
    n_outlets: int = 40
    writeup_share: float = 0.5  # events written up more than once: the hard negatives
    mean_copies: float = 3.0  # wire copies per write-up besides the original
    max_strength: float = 0.6  # edits of each copy are drawn with strength in [0, this]


@dataclass(frozen=True, slots=True)
class LabelledDoc:
    """A corpus document with the truth: which story (write-up) and event it belongs to."""

    document: Document
    story: str
    event: str
    strength: float  # 0 for an original write-up


@dataclass(frozen=True, slots=True)
class Scores:
    """Pairwise precision, recall and F1 over same-cluster pairs, and the adjusted Rand
    index; `hard_negative_precision` counts only pairs of documents about one event."""

    precision: float
    recall: float
    f1: float
    ari: float
    hard_negative_precision: float
    true_pairs: int
    predicted_pairs: int


@dataclass(frozen=True, slots=True)
class _World:
    vocabulary: np.ndarray
    cdf: np.ndarray  # Zipf cumulative weights over the vocabulary
    outlets: tuple[tuple[str, str | None], ...]  # (name, promo line)


def _pseudo_words(rng: np.random.Generator, n: int, syllables: tuple[int, int]) -> list[str]:
    out: list[str] = []
    seen: set[str] = set(_FUNCTION_WORDS)
    while len(out) < n:
        k = int(rng.integers(*syllables, endpoint=True))
        word = "".join(str(rng.choice(_CONSONANTS)) + str(rng.choice(_VOWELS)) for _ in range(k))
        if word not in seen:
            seen.add(word)
            out.append(word)
    return out


def _world(rng: np.random.Generator, n_outlets: int) -> _World:
    words = list(dict.fromkeys(_FUNCTION_WORDS)) + _pseudo_words(rng, _VOCABULARY_SIZE, (1, 3))
    ranks = np.arange(1, len(words) + 1, dtype=np.float64)
    weights = ranks**-_ZIPF_EXPONENT
    names = _pseudo_words(rng, n_outlets, (2, 3))
    outlets = []
    for i, name in enumerate(names):
        promo = None
        if i % 3 != 2:  # two outlets in three end every page with a promo line
            promo = (
                f"Discover the latest {name.title()} news and updates. Download the "
                f"{name.title()} app and subscribe to our newsletter to stay updated!"
            )
        outlets.append((f"{name}.example", promo))
    cdf = np.cumsum(weights) / weights.sum()
    return _World(np.array(words, dtype=object), cdf, tuple(outlets))


def _sentence_words(rng: np.random.Generator, world: _World, n: int, topic: list[str]) -> list:
    words = list(world.vocabulary[np.searchsorted(world.cdf, rng.random(n))])
    for pos in np.flatnonzero(rng.random(n) < 0.2):
        words[pos] = topic[int(rng.integers(len(topic)))]
    return words


def _sentence(rng: np.random.Generator, world: _World, topic: list[str]) -> str:
    words = _sentence_words(rng, world, int(rng.integers(10, 28)), topic)
    return " ".join(words).capitalize() + "."


@dataclass(frozen=True, slots=True)
class _Event:
    people: list[str]
    place: str
    topic: list[str]
    quotes: list[str]
    background: str


def _event(rng: np.random.Generator, world: _World) -> _Event:
    names = [n.title() for n in _pseudo_words(rng, 6, (2, 3))]
    people = [f"{names[0]} {names[1]}", f"{names[2]} {names[3]}", f"{names[4]} {names[5]}"]
    place = _pseudo_words(rng, 1, (2, 4))[0].title()
    topic = [str(w) for w in rng.choice(world.vocabulary[200:], size=25)] + [place] + names
    quotes = [" ".join(_sentence_words(rng, world, 14, topic)) for _ in range(3)]
    background = " ".join(_sentence(rng, world, topic) for _ in range(2))
    return _Event(people, place, topic, quotes, background)


def _writeup(rng: np.random.Generator, world: _World, event: _Event) -> list[str]:
    """A fresh write-up: the event's names, some of its quotes, maybe its background."""
    paragraphs = []
    for _ in range(int(rng.integers(8, 16))):
        paragraphs.append(" ".join(_sentence(rng, world, event.topic)
                                   for _ in range(int(rng.integers(1, 3)))))
    for quote in rng.choice(event.quotes, size=2, replace=False):
        speaker = event.people[int(rng.integers(len(event.people)))]
        paragraphs.insert(int(rng.integers(1, len(paragraphs))), f'"{quote}," {speaker} said.')
    if rng.random() < 0.5:
        paragraphs.insert(int(rng.integers(2, len(paragraphs))), event.background)
    return paragraphs


def _noisy_word(rng: np.random.Generator, word: str) -> str:
    """A typo or an OCR confusion in one word."""
    if len(word) < 3:
        return word
    pos = int(rng.integers(len(word)))
    char = word[pos]
    if char.lower() in _OCR_CONFUSIONS and rng.random() < 0.5:
        return word[:pos] + _OCR_CONFUSIONS[char.lower()] + word[pos + 1 :]
    if pos + 1 < len(word):
        return word[:pos] + word[pos + 1] + word[pos] + word[pos + 2 :]
    return word[:pos]


def _edit(rng: np.random.Generator, world: _World, paragraphs: list[str], strength: float,
          place: str, outlet: str) -> list[str]:
    """A wire copy: edits whose extent grows with `strength` (0 keeps the text)."""
    out = list(paragraphs)
    cut = int(round(rng.random() * strength * 0.5 * len(out)))
    out = out[: max(len(out) - cut, 3)]
    if rng.random() < strength:
        words = " ".join(out[1:]).split(" ")
        for pos in np.flatnonzero(rng.random(len(words)) < strength * 0.12):
            words[pos] = str(world.vocabulary[int(rng.integers(len(world.vocabulary)))])
        for pos in np.flatnonzero(rng.random(len(words)) < strength * 0.06):
            words[pos] = _noisy_word(rng, words[pos])
        out = [out[0], " ".join(words)]  # paragraph breaks lost, as in a bad extraction
    if rng.random() < 0.6:
        month = _MONTHS[int(rng.integers(12))]
        out[0] = f"{place.upper()}, {month} {int(rng.integers(1, 29))} ({outlet}) - {out[0]}"
    if rng.random() < 0.3:
        note = "Editor's note: this story has been updated with additional reporting."
        out.insert(0 if rng.random() < 0.5 else len(out), note)
    return out


def _finish(world: _World, outlet_index: int, paragraphs: list[str], credit: str) -> str:
    name, promo = world.outlets[outlet_index]
    tail = [credit] + ([promo] if promo else [])
    return "\n".join(paragraphs + tail)


def generate_corpus(spec: CorpusSpec = CorpusSpec()) -> list[LabelledDoc]:
    """Exactly `spec.n_docs` labelled documents, the same for the same spec everywhere."""
    rng = np.random.default_rng(spec.seed)
    world = _world(rng, spec.n_outlets)
    docs: list[LabelledDoc] = []
    event_no = 0
    while len(docs) < spec.n_docs:
        event = _event(rng, world)
        n_writeups = int(rng.integers(2, 5)) if rng.random() < spec.writeup_share else 1
        when = _START + timedelta(minutes=int(rng.integers(0, 60 * 24 * 300)))
        for w in range(n_writeups):
            story = f"e{event_no}w{w}"
            original = _writeup(rng, world, event)
            n_copies = int(rng.geometric(1 / (1 + spec.mean_copies))) - 1
            for c in range(n_copies + 1):
                if len(docs) == spec.n_docs:
                    break
                outlet = int(rng.integers(len(world.outlets)))
                strength = 0.0 if c == 0 else float(rng.uniform(0, spec.max_strength))
                body = original if c == 0 else _edit(rng, world, original, strength,
                                                     event.place, world.outlets[outlet][0])
                credit = f"Reporting by {event.people[c % 3]}; editing by {event.people[2]}"
                published = when + timedelta(minutes=int(rng.integers(0, 600)) * (c > 0))
                document = Document(
                    doc_id=f"d{len(docs):06d}",
                    text=_finish(world, outlet, body, credit),
                    title=" ".join(body[0].split()[:8]),
                    published_at=published,
                    source=world.outlets[outlet][0],
                )
                docs.append(LabelledDoc(document, story, f"e{event_no}", strength))
        event_no += 1
    return docs


def corpus_digest(docs: Sequence[LabelledDoc]) -> str:
    """A sha256 over ids, texts and labels: pins the corpus beside its accuracy floors."""
    digest = hashlib.sha256()
    for d in docs:
        for part in (d.document.doc_id, d.document.text, d.story, d.event):
            digest.update(part.encode())
            digest.update(b"\x00")
    return digest.hexdigest()


def _pairs(counts: np.ndarray) -> int:
    counts = counts.astype(np.int64)
    return int((counts * (counts - 1) // 2).sum())


def _codes(values: Sequence[str]) -> np.ndarray:
    return np.unique(np.asarray(values, dtype=object).astype(str), return_inverse=True)[1]


def pairwise_scores(docs: Sequence[LabelledDoc], predicted: Mapping[str, str]) -> Scores:
    """Score a doc_id -> cluster mapping against the stories (pairs counted, never listed)."""
    truth = _codes([d.story for d in docs])
    event = _codes([d.event for d in docs])
    pred = _codes([predicted[d.document.doc_id] for d in docs])
    n = len(docs)
    _, both = np.unique(truth.astype(np.int64) * (n + 1) + pred, return_counts=True)
    _, same_event = np.unique(event.astype(np.int64) * (n + 1) + pred, return_counts=True)
    tp = _pairs(both)
    true_pairs = _pairs(np.bincount(truth))
    pred_pairs = _pairs(np.bincount(pred))
    precision = tp / pred_pairs if pred_pairs else 1.0
    recall = tp / true_pairs if true_pairs else 1.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    event_pairs = _pairs(same_event)
    total = n * (n - 1) / 2
    expected = true_pairs * pred_pairs / total if total else 0.0
    ceiling = (true_pairs + pred_pairs) / 2
    ari = (tp - expected) / (ceiling - expected) if ceiling != expected else 1.0
    return Scores(
        precision=precision,
        recall=recall,
        f1=f1,
        ari=ari,
        hard_negative_precision=tp / event_pairs if event_pairs else 1.0,
        true_pairs=true_pairs,
        predicted_pairs=pred_pairs,
    )
