"""Per-outlet boilerplate: learned from recurring edge sentences, stripped from texts."""

from __future__ import annotations

from pathlib import Path

from pipeline.boilerplate import (
    edge_sentences,
    fold_sentence,
    learn_boilerplate,
    strip_all,
    strip_boilerplate,
)

SEED_001 = next((Path(__file__).parents[2] / "seeds").glob("001_*.txt"))
PROMO = ("Discover the latest Business News, Sensex, and Nifty updates. Obtain Personal Finance "
         "insights, tax queries, and expert opinions on Moneycontrol or download the "
         "Moneycontrol App to stay updated!")
OTHER = ("Markets in Mumbai fell sharply on Monday as the rupee slid to a record low.\n"
         "Traders said foreign funds kept selling banking shares through the afternoon.\n"
         "The central bank was seen stepping in to slow the fall, dealers said.\n"
         "Analysts expect more volatility before the budget next month.")


def test_the_seed_promo_is_learned_from_two_articles_and_stripped_from_both():
    seed = SEED_001.read_text(encoding="utf-8")
    articles = [("moneycontrol", seed), ("moneycontrol", OTHER + "\n" + PROMO)]
    stripped = strip_all(articles, min_articles=2)
    for text in stripped:
        assert "Discover the latest" not in text and "Moneycontrol App" not in text
    assert stripped[0].startswith("American and Chinese officials")
    assert stripped[0].endswith("in the negotiations.")


def test_a_single_article_teaches_nothing():
    seed = SEED_001.read_text(encoding="utf-8")
    assert strip_all([("moneycontrol", seed)], min_articles=2) == [seed]


def test_boilerplate_is_per_outlet():
    articles = [("a", OTHER + "\n" + PROMO), ("a", "Another story here today.\n" + PROMO),
                ("b", "A third story from b appears.\n" + PROMO)]
    learned = learn_boilerplate(((o, edge_sentences(t)) for o, t in articles), min_articles=2)
    assert set(learned) == {"a"}
    assert strip_all(articles, min_articles=2)[2].endswith("stay updated!")


def test_revisions_of_one_article_do_not_count_twice():
    """Two versions of one article share their body: the shared ending is not boilerplate."""
    body = next(SEED_001.parent.glob("000_*.txt")).read_text(encoding="utf-8").strip()
    ending = "The talks will resume in Washington next week, officials said."
    v1 = body + "\n" + ending
    v2 = "UPDATE 1-" + body.replace("Sunday", "Sunday morning") + "\n" + ending
    learned = learn_boilerplate(((o, edge_sentences(t)) for o, t in [("a", v1), ("a", v2)]),
                                min_articles=2)
    assert fold_sentence(ending) not in learned.get("a", frozenset())


def test_stacked_boilerplate_is_peeled_and_body_untouched():
    keys = {fold_sentence(s) for s in (
        "Share this article on social media.", "Subscribe to our newsletter today.",
        "Download our app for the latest news.", "Follow us on every platform now.")}
    text = ("Share this article on social media.\n" + OTHER + "\nSubscribe to our newsletter "
            "today. Download our app for the latest news.\nFollow us on every platform now.")
    assert strip_boilerplate(text, keys) == OTHER


def test_boilerplate_glued_to_the_last_paragraph_is_cut_from_it():
    keys = {fold_sentence("Subscribe to our newsletter today.")}
    text = OTHER + " Subscribe to our newsletter today."
    assert strip_boilerplate(text, keys) == OTHER


def test_empty_and_blank_texts():
    assert edge_sentences("") == [] and strip_boilerplate("", {"x"}) == ""
    assert strip_all([("a", "   "), ("a", "")], min_articles=2) == ["   ", ""]
