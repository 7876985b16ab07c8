"""The function-word check confirms a true declaration and never a false one."""

import pytest

from pipeline.extract import extract_page
from pipeline.languages import FUNCTION_WORDS, confirms
from pipeline.records import FeedEntry, Response

# The same news paragraph in each language with a list.
TEXTS = {
    "en": "The United States and China agreed on Sunday to a framework for a trade deal that "
          "would be put to the two leaders, officials said after two days of talks in Kuala "
          "Lumpur. The agreement, which has not been published, would extend a truce on "
          "tariffs and ease export controls on rare earths, according to people familiar with "
          "the matter who were not authorised to speak.",
    "de": "Die Vereinigten Staaten und China haben sich am Sonntag auf einen Rahmen für ein "
          "Handelsabkommen geeinigt, das den beiden Staatschefs vorgelegt werden soll, sagten "
          "Beamte nach zweitägigen Gesprächen in Kuala Lumpur. Die Vereinbarung, die noch nicht "
          "veröffentlicht wurde, würde eine Waffenruhe bei den Zöllen verlängern und die "
          "Exportkontrollen für seltene Erden lockern, wie es aus Kreisen hieß.",
    "fr": "Les États-Unis et la Chine se sont mis d'accord dimanche sur le cadre d'un accord "
          "commercial qui sera soumis aux deux dirigeants, ont déclaré des responsables après "
          "deux jours de discussions à Kuala Lumpur. L'accord, qui n'a pas été publié, "
          "prolongerait une trêve sur les droits de douane et assouplirait les contrôles à "
          "l'exportation sur les terres rares, selon des personnes au fait du dossier.",
    "es": "Estados Unidos y China acordaron el domingo un marco para un acuerdo comercial que "
          "se presentará a los dos líderes, dijeron los funcionarios tras dos días de "
          "conversaciones en Kuala Lumpur. El acuerdo, que no se ha publicado, prolongaría una "
          "tregua en los aranceles y relajaría los controles a la exportación de tierras raras, "
          "según personas familiarizadas con el asunto.",
    "it": "Gli Stati Uniti e la Cina hanno concordato domenica un quadro per un accordo "
          "commerciale che sarà sottoposto ai due leader, hanno detto i funzionari dopo due "
          "giorni di colloqui a Kuala Lumpur. L'accordo, che non è stato pubblicato, "
          "prolungherebbe una tregua sui dazi e allenterebbe i controlli sulle esportazioni "
          "delle terre rare, secondo persone a conoscenza della questione.",
    "pt": "Os Estados Unidos e a China acordaram no domingo um quadro para um acordo comercial "
          "que será submetido aos dois líderes, disseram as autoridades após dois dias de "
          "negociações em Kuala Lumpur. O acordo, que não foi publicado, prolongaria uma "
          "trégua nas tarifas e aliviaria os controles de exportação das terras raras, segundo "
          "pessoas familiarizadas com o assunto.",
    "nl": "De Verenigde Staten en China zijn het zondag eens geworden over een kader voor een "
          "handelsakkoord dat aan de twee leiders zal worden voorgelegd, zeiden functionarissen "
          "na twee dagen van gesprekken in Kuala Lumpur. Het akkoord, dat nog niet is "
          "gepubliceerd, zou een bestand op tarieven verlengen en de exportcontroles op "
          "zeldzame aardmetalen versoepelen, volgens mensen die bekend zijn met de zaak.",
}


@pytest.mark.parametrize("written", sorted(TEXTS))
def test_a_text_confirms_its_own_language_and_no_other(written):
    assert set(TEXTS) == set(FUNCTION_WORDS)
    assert [lang for lang in FUNCTION_WORDS if confirms(lang, TEXTS[written])] == [written]


def test_no_list_or_too_few_words_confirms_nothing():
    assert not confirms("sv", TEXTS["en"])  # no list: the detector decides
    assert not confirms("en", "The talks and the deal of the year")


def _page(lang: str, text: str) -> Response:
    # Long enough for the detector to be asked; the extractor drops repeated paragraphs.
    paragraphs = f"<p>{text}</p><p>{' '.join(reversed(text.split()))}</p>"
    html = (f'<html lang="{lang}"><head><title>T</title></head><body><article>{paragraphs}'
            "</article></body></html>")
    url = "http://127.0.0.1:9/a.html"
    from datetime import UTC, datetime
    return Response(url, url, 200, (("content-type", "text/html"),), html.encode(),
                    datetime(2025, 10, 26, tzinfo=UTC))


@pytest.mark.parametrize(("declared", "written"), [("en", "de"), ("de", "fr"), ("fr", "en"),
                                                   ("es", "pt"), ("pt", "es"), ("sv", "nl")])
def test_a_false_declaration_is_overruled_by_the_detector(declared, written):
    entry = FeedEntry(feed_url="http://127.0.0.1:9/f", entry_key="a", url="http://127.0.0.1:9/a.html",
                      title="T", summary=None, published_at=None)
    assert extract_page(_page(declared, TEXTS[written]), entry).language == written
    assert extract_page(_page(written, TEXTS[written]), entry).language == written
