"""A cheap check that a text is in the language its page declares.

Most pages declare their language truly, and the detector (py3langid) costs a few
milliseconds a page, a tenth of extraction. The commonest function words of a language make
up a third or more of any running text in it and a few percent of text in another, so
counting them confirms a declaration; only a page that fails the count goes to the detector.
"""

from __future__ import annotations

import re

__all__ = ["FUNCTION_WORDS", "confirms"]

#: Share of a text's words that must be the declared language's function words.
MIN_FUNCTION_SHARE = 0.22
#: Fewer words than this say too little to confirm anything.
MIN_WORDS = 40

#: The most frequent words of each language with a list (close languages share some, so a
#: declaration is confirmed only when its list is also the best matching one).
FUNCTION_WORDS: dict[str, frozenset[str]] = {
    "en": frozenset(
        "the of and to a is that for it as was with be by on not he i this are or his from "
        "at which but have an they you were her she there been has their its would will "
        "who had said than more also after into about".split()
    ),
    "de": frozenset(
        "der die und den von zu das mit sich des auf für ist im dem nicht ein eine als auch "
        "es an er hat aus bei sind noch nach wird einer um wie über so zum war haben nur "
        "oder aber vor zur bis mehr durch".split()
    ),
    "fr": frozenset(
        "de la le et les des en un du une que est pour qui dans par plus pas au sur ne se "
        "ce il sont avec son aux a été ont cette mais ou elle leur comme nous si tout".split()
    ),
    "es": frozenset(
        "de la que el en y los del se las por un para con no una su al lo como más pero "
        "sus le ya o este sí porque esta entre cuando muy sin sobre también me hasta hay "
        "donde ha desde todo".split()
    ),
    "it": frozenset(
        "di che e il la per un in è del non una sono della con da si le al dei nel alla "
        "gli lo ha più ma come anche delle degli questo se ci sul nella dalla loro a i ai "
        "sui sulle nei era essere stato stata tra fra".split()
    ),
    "pt": frozenset(
        "de que e o a do da em um para com não uma os no se na por mais as dos como mas "
        "ao ele das à seu sua ou quando muito nos já foi também só pelo pela até isso".split()
    ),
    "nl": frozenset(
        "de van het een en in is dat op te zijn voor met die niet aan er om ook als bij "
        "of uit wordt door maar dan werd nog naar heeft hij wel kan deze zich geen".split()
    ),
}

_WORD = re.compile(r"[^\W\d_]+")
_LANGUAGES_OF: dict[str, tuple[str, ...]] = {
    word: tuple(lang for lang, words in FUNCTION_WORDS.items() if word in words)
    for word in set().union(*FUNCTION_WORDS.values())
}


def confirms(language: str, text: str) -> bool:
    """Whether the text reads as `language`: its function words are a large share of the
    words, larger than any other listed language's. False when there is no list for the
    language or too little text: then ask the detector."""
    if language not in FUNCTION_WORDS:
        return False
    words = _WORD.findall(text.lower())
    if len(words) < MIN_WORDS:
        return False
    hits = dict.fromkeys(FUNCTION_WORDS, 0)
    for word in words:
        for lang in _LANGUAGES_OF.get(word, ()):
            hits[lang] += 1
    best = max(hits.values())
    return hits[language] == best and best >= MIN_FUNCTION_SHARE * len(words)
