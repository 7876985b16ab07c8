"""The fixture web generator: determinism, story families, promo, metadata, feeds, extraction."""

from __future__ import annotations

import json
import re
import tempfile
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urljoin, urlsplit

import feedparser
import pytest
import trafilatura

from pipeline.fixtures import (
    PLACEHOLDER_ORIGIN,
    ArticleLabel,
    build_web,
    load_labels,
    tree_digest,
)
from pipeline.fixtures.edits import apply_edits
from pipeline.fixtures.generator import file_for_path
from pipeline.fixtures.registry import DEFAULT_SEEDS_DIR, Edit, load_registry
from pipeline.fixtures.variants import ALT_ORIGIN

WORD = re.compile(r"\w+")
MIN_COVERAGE = 0.95


@pytest.fixture(scope="module")
def web(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("web")
    build_web(root)
    return root


def _words(text: str) -> Counter[str]:
    return Counter(w.lower() for w in WORD.findall(text))


def _coverage(reference: str, text: str) -> float:
    ref, got = _words(reference), _words(text)
    return sum(min(n, got[w]) for w, n in ref.items()) / sum(ref.values())


def _html(web: Path, path: str) -> str:
    return (web / file_for_path(path)).read_text(encoding="utf-8")


def _built_labels() -> list[ArticleLabel]:
    """The labels of a throwaway build, for parametrizing (test ids = page paths)."""
    with tempfile.TemporaryDirectory() as tmp:
        build_web(Path(tmp))
        return list(load_labels(Path(tmp)).articles)


ALL_PAGES = _built_labels()
BODY_PAGES = [a for a in ALL_PAGES if a.has_body]


def test_build_is_byte_identical(web: Path, tmp_path: Path) -> None:
    again = build_web(tmp_path / "again")
    assert again.digest == tree_digest(web)
    rebuilt = build_web(tmp_path / "again")  # over an earlier build
    assert rebuilt.digest == again.digest
    assert again.files == sum(1 for p in web.rglob("*") if p.is_file())


def test_build_refuses_to_clear_a_foreign_directory(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        build_web(tmp_path)
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_registry_mixes_formats_and_hand_written_articles_fit() -> None:
    registry = load_registry()
    formats = {f.format for o in registry.outlets for f in o.feeds}
    assert len(registry.outlets) >= 5 and formats == {"rss", "atom"}
    articles = sorted((DEFAULT_SEEDS_DIR / "articles").glob("*.txt"))
    assert len(articles) >= 10
    for path in articles:
        body = path.read_text(encoding="utf-8").split("\n---\n", 1)[1]
        assert 150 <= len(body.split()) <= 400, path.name


def test_story_families(web: Path) -> None:
    stories = load_labels(web).stories()
    wire, promo = stories.pop("seed-000"), stories.pop("seed-001")
    assert len({a.outlet for a in wire}) == len(wire) >= 4  # original + 3 republications
    assert len({a.outlet for a in promo}) == len(promo) >= 2
    for family in (wire, promo):
        assert sum(a.is_original for a in family) == 1
        assert all(a.edits for a in family if not a.is_original)
    assert all(len(family) == 1 for family in stories.values())
    topics = {a.topic for family in stories.values() for a in family}
    assert {"trade", "weather", "sport", "tech", "politics"} <= topics


def test_wire_copies_differ_from_the_original(web: Path) -> None:
    labels = load_labels(web)
    family = labels.stories()["seed-000"]
    original = next(a for a in family if a.is_original)
    texts = {a.path: a.reference_text(web) for a in family}
    titles = {a.title for a in family}
    assert len(titles) == len(family)
    for copy in family:
        if copy is not original:
            assert texts[copy.path] != texts[original.path]
            assert _coverage(texts[copy.path], texts[original.path]) > 0.6


@pytest.mark.parametrize("label", ALL_PAGES, ids=lambda a: a.path)
def test_page_metadata(web: Path, label: ArticleLabel) -> None:
    labels = load_labels(web)
    html = _html(web, label.path)
    outlet = labels.outlet(label.outlet)
    origin = ALT_ORIGIN if label.host == "alt" else PLACEHOLDER_ORIGIN
    # a syndicated copy declares the original's URL (on the other domain) as canonical
    url = PLACEHOLDER_ORIGIN + label.syndicated_from if label.syndicated_from else origin + label.path
    assert f'<html lang="{outlet.language}">' in html
    assert f'<link rel="canonical" href="{url}">' in html
    assert f'<meta property="og:url" content="{url}">' in html
    assert f'<meta property="og:site_name" content="{outlet.name}">' in html
    assert f'<meta name="author" content="{label.author}">' in html
    assert "<title>" in html
    meta = re.search(r'article:published_time" content="([^"]+)"', html)
    ld = re.search(r'<script type="application/ld\+json">(.*?)</script>', html, re.S)
    assert meta or ld
    stamps = [meta.group(1)] if meta else []
    if ld:
        doc = json.loads(ld.group(1).replace("<\\/", "</"))
        kinds = {"article": "NewsArticle", "live_blog": "LiveBlogPosting", "video": "VideoObject"}
        assert doc["@type"] == kinds[label.page_type] and doc["author"][0]["name"] == label.author
        stamps += [doc["datePublished"]] if "datePublished" in doc else []
    if label.date_style in ("all", "jsonld"):  # the other styles are checked by the pipeline
        assert stamps
        for stamp in stamps:
            assert _utc(stamp) == label.published


def _utc(stamp: str) -> datetime:
    return datetime.fromisoformat(stamp).astimezone(UTC)


def test_promo_outlet_ends_every_body_with_its_promo(web: Path) -> None:
    labels = load_labels(web)
    promo_outlets = [o for o in labels.outlets if o.promo_line]
    assert promo_outlets
    seed = (DEFAULT_SEEDS_DIR / "001_826f48c78b996053.txt").read_text(encoding="utf-8")
    assert seed.strip().splitlines()[-1] == promo_outlets[0].promo_line
    for outlet in promo_outlets:
        pages = [a for a in labels.articles if a.outlet == outlet.slug]
        assert len(pages) >= 2
        for label in pages:
            body = _html(web, label.path).split('<article class="story">', 1)[1]
            paragraphs = re.findall(r"<p[^>]*>(.*?)</p>", body.split("</article>", 1)[0])
            assert paragraphs[-1] == outlet.promo_line.replace("'", "&#x27;")
            assert label.promo_line == outlet.promo_line
            assert outlet.promo_line not in label.reference_text(web)


def test_feeds_cover_every_article_with_real_world_quirks(web: Path) -> None:
    labels = load_labels(web)
    listed: Counter[str] = Counter()
    raw_links, undated = [], 0
    aliases = {v: a.path for a in labels.articles for v in a.variants}  # AMP twins, wrappers
    for outlet in labels.outlets:
        for feed in outlet.feeds:
            xml = (web / file_for_path(feed.path, feed.format)).read_bytes()
            headers = {
                "content-location": PLACEHOLDER_ORIGIN + feed.path,
                "content-type": f"application/{feed.format}+xml; charset=utf-8",
            }
            parsed = feedparser.parse(xml, response_headers=headers)
            assert not parsed.bozo, feed.path
            assert parsed.version.startswith(feed.format)
            for entry in parsed.entries:
                raw_links.append(entry.link)
                undated += not (entry.get("published") or entry.get("updated"))
                assert entry.get("summary")
                path = urlsplit(urljoin(PLACEHOLDER_ORIGIN + feed.path, entry.link)).path
                listed[aliases.get(path, path)] += 1
    assert set(listed) == {a.path for a in labels.articles}
    assert any(n > 1 for n in listed.values())  # one article in two feeds
    assert undated >= 1
    assert any("utm_" in link for link in raw_links)
    xml_links = [
        m
        for p in web.rglob("*")
        if p.suffix in (".rss", ".atom", ".xml")
        for m in re.findall(r'<link>([^<]*)</link>|href="([^"]*)"', p.read_text())
    ]
    assert any(not (a or b).startswith("http") for a, b in xml_links)  # relative links


def test_edits_that_do_not_fit_are_build_errors() -> None:
    paragraphs = ("One sentence here.", "Another one.")
    with pytest.raises(ValueError, match="exactly once"):
        apply_edits(paragraphs, (Edit(op="reword", old="missing", new="x"),), "t")
    with pytest.raises(ValueError, match="cannot cut"):
        apply_edits(paragraphs, (Edit(op="cut_last", count=2),), "t")
    edited = apply_edits(
        paragraphs,
        (Edit(op="dateline", new="CITY: "), Edit(op="editors_note", text="Note.", at="top")),
        "t",
    )
    assert edited == ("Note.", "CITY: One sentence here.", "Another one.")


@pytest.mark.parametrize("label", BODY_PAGES, ids=lambda a: a.path)
def test_trafilatura_extracts_the_body_and_nothing_else(web: Path, label: ArticleLabel) -> None:
    html = (web / file_for_path(label.path)).read_bytes()
    doc = trafilatura.bare_extraction(html, include_comments=False, with_metadata=True)
    assert doc is not None and doc.text
    assert _coverage(label.reference_text(web), doc.text) >= MIN_COVERAGE
    leaked = [m for m in load_labels(web).outlet(label.outlet).template_markers if m in doc.text]
    assert leaked == []
