"""The docs a user reads: the settings table is the one the settings' declaration
gives, and every relative link leads to a file (and heading) that exists."""
import json
import re
from pathlib import Path

from spacy.language import Language

import spacy_lstm_tagger  # noqa: F401  (registers the factory)
from spacy_lstm_tagger.pipeline.settings import ModelSettings

from helpers import ROOT

SETTINGS_PAGE = ROOT / "docs" / "settings.md"
TABLE_START = "<!-- settings table:"
TABLE_END = "<!-- end of settings table -->"
PAGES = [ROOT / "README.md", ROOT / "BENCHMARKS.md", *sorted((ROOT / "docs").glob("*.md"))]
LINK = re.compile(r"!?\[[^\]]*\]\(([^)\s]+)\)")


def settings_table_in_docs() -> str:
    text = SETTINGS_PAGE.read_text(encoding="utf-8")
    assert text.count(TABLE_START) == 1 and text.count(TABLE_END) == 1, "the table's markers"
    inside = text.split(TABLE_START, 1)[1].split(TABLE_END, 1)[0]
    return inside.split("-->", 1)[1].lstrip("\n")


def table_rows(table: str) -> dict:
    """{setting: [default, range, meaning]} of a Markdown table."""
    rows = {}
    for line in table.strip().splitlines()[2:]:
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        rows[cells[0].strip("`")] = cells[1:]
    return rows


def test_the_settings_table_in_the_docs_is_the_one_bin_settings_table_prints(run_python):
    printed = run_python(ROOT / "bin" / "settings_table.py").stdout
    assert settings_table_in_docs() == printed


def test_the_settings_table_gives_every_model_setting_and_its_default():
    rows = table_rows(settings_table_in_docs())
    defaults = ModelSettings()
    names = list(defaults.__dataclass_fields__)
    assert list(rows) == names
    for name in names:
        default = getattr(defaults, name)
        shown = f'`"{default}"`' if isinstance(default, str) else f"`{default}`"
        assert rows[name][0] == shown, name


def test_the_component_table_gives_every_component_setting_and_its_default():
    text = SETTINGS_PAGE.read_text(encoding="utf-8")
    table = text.split("## The component", 1)[1].split("## The model", 1)[0]
    table = table[table.index("| setting"):]
    rows = table_rows(table.split("\n\n", 1)[0])
    config = Language.get_factory_meta("lstm_tagger").default_config
    settings = {k: v for k, v in config.items() if k != "model"}
    assert sorted(rows) == sorted(settings)
    for name, default in settings.items():
        if isinstance(default, bool):
            shown = f"`{str(default).lower()}`"
        elif isinstance(default, str):
            shown = f'`"{default}"`'
        elif isinstance(default, dict):
            shown = f"`{default['@scorers']}`"
        elif isinstance(default, list):
            shown = f"`{json.dumps(default)}`"
        else:
            shown = f"`{default}`"
        assert rows[name][0] == shown, name


def without_code(text: str) -> str:
    """Markdown text without fenced code blocks, indented code and code spans."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = "\n".join(line for line in text.splitlines() if not line.startswith("    "))
    return re.sub(r"`[^`\n]*`", "", text)


def heading_anchors(page: Path) -> set:
    """The anchors GitHub gives the page's headings."""
    anchors = set()
    for line in re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S).splitlines():
        match = re.match(r"#{1,6} (.*)", line)
        if match:
            slug = re.sub(r"[^\w\- ]", "", match.group(1).strip().lower())
            anchors.add(slug.replace(" ", "-"))
    return anchors


def test_every_relative_link_in_the_docs_leads_to_a_file_and_heading_that_exist():
    broken = []
    for page in PAGES:
        for target in LINK.findall(without_code(page.read_text(encoding="utf-8"))):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.is_file():
                broken.append(f"{page.name}: {target} (no such file)")
            elif anchor and linked.suffix == ".md" and anchor not in heading_anchors(linked):
                broken.append(f"{page.name}: {target} (no such heading)")
    assert not broken


def test_the_docs_link_every_topic_page_from_the_readme():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    linked = {(ROOT / target).resolve() for target in LINK.findall(readme)}
    pages = {page.resolve() for page in (ROOT / "docs").glob("*.md")}
    assert pages and pages <= linked, sorted(p.name for p in pages - linked)
