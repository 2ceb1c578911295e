"""The project's own documents are the design of record (docs/README.md): the generated tables
match the code, every document and section the code cites exists, and nothing cites a document
that lives outside the repository."""
from __future__ import annotations

import re
from pathlib import Path

from subsidy.common.docs import render

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p for d in ("subsidy", "templates", "migrations", "bench", "tools") for p in (ROOT / d).rglob("*")
           if p.suffix in {".py", ".html", ".js", ".css", ".txt", ".sh"} and p.is_file()]
CITATION = re.compile(r'docs/([\w-]+\.md)(?:\s*"([^"]+)")?')


def test_generated_tables_match_the_code():
    assert (ROOT / "docs" / "tables.md").read_text(encoding="utf-8") == render(), \
        "docs/tables.md is out of date: run `flask docs tables`"


def test_every_cited_document_and_section_exists():
    missing = []
    for path in SOURCES:
        for name, section in CITATION.findall(path.read_text(encoding="utf-8", errors="replace")):
            doc = ROOT / "docs" / name
            if not doc.exists():
                missing.append(f"{path.relative_to(ROOT)}: docs/{name}")
            elif section and not re.search(rf"^#+ .*{re.escape(' '.join(section.split()))}",
                                           doc.read_text(encoding="utf-8"), re.M):
                missing.append(f'{path.relative_to(ROOT)}: docs/{name} "{section}"')
    assert missing == []


def test_nothing_cites_an_issue_or_an_outside_document():
    outside = re.compile(r"\bissue \d|DESIGN\.md|API\.md|\.\./shared|seeds/")
    found = [f"{p.relative_to(ROOT)}:{n}" for p in SOURCES if "docs/" not in str(p.relative_to(ROOT))
             for n, line in enumerate(p.read_text(encoding="utf-8", errors="replace").splitlines(), 1)
             if outside.search(line)]
    assert found == []


def test_the_readme_leads_to_the_documents():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for name in ("architecture.md", "design.md", "api.md", "operations.md", "tables.md"):
        assert f"docs/{name}" in readme
        assert (ROOT / "docs" / name).exists()
