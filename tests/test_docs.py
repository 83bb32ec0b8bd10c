"""The documentation site builds strictly, every page in its navigation is rendered, the API page
documents softrl_jax.ops, and the README stays short with no broken relative link."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
README_MAX_LINES = 250


def _nav_pages(nav) -> list[str]:
    """Every markdown path in mkdocs.yml's nav, depth first."""
    pages = []
    for entry in nav:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        if isinstance(value, list):
            pages += _nav_pages(value)
        elif isinstance(value, str) and value.endswith(".md"):
            pages.append(value)
    return pages


def _html_path(site: Path, page: str) -> Path:
    """Where mkdocs (use_directory_urls, the default) writes a page: a.md -> a/index.html."""
    stem = page[: -len(".md")]
    if stem == "index" or stem.endswith("/index"):
        return site / (stem + ".html")
    return site / stem / "index.html"


@pytest.fixture(scope="module")
def built_site(tmp_path_factory):
    site = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    proc = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=300,
    )
    return proc, site


def test_site_builds_strictly(built_site):
    proc, _ = built_site
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-4000:]


def test_every_nav_page_is_rendered(built_site):
    proc, site = built_site
    assert proc.returncode == 0, proc.stderr[-4000:]
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text())
    pages = _nav_pages(config["nav"])
    for page in ("index.md", "getting-started.md", "training.md", "benchmarks.md", "benchmark-suites.md",
                 "results/dmc100k.md", "maths.md", "api.md", "testing.md", "layout.md"):
        assert page in pages, f"{page} is not in mkdocs.yml's nav"
    assert (site / "index.html").is_file()
    for page in pages:
        assert (ROOT / "docs" / page).is_file(), page
        assert _html_path(site, page).is_file(), f"{page} was not rendered"


def test_api_page_documents_ops(built_site):
    proc, site = built_site
    assert proc.returncode == 0, proc.stderr[-4000:]
    html = _html_path(site, "api.md").read_text()
    # functions that softrl_jax.ops really defines (read from the source: no jax import needed)
    for module, name in (("soft", "soft_bellman_target"), ("soft", "soft_policy_gradient_loss"),
                         ("distributional", "categorical_projection")):
        source = (ROOT / "softrl_jax" / "ops" / f"{module}.py").read_text()
        assert re.search(rf"^def {name}\(", source, flags=re.M), f"softrl_jax.ops.{module} has no {name}"
        assert f'id="softrl_jax.ops.{module}.{name}"' in html, f"the API page does not document {name}"


def test_readme_is_short():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_readme_relative_links_exist():
    text = (ROOT / "README.md").read_text()
    # drop fenced code blocks: links are only links outside them
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    targets = re.findall(r"\[[^\]]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)", text)
    relative = [t for t in targets if not re.match(r"^[a-z][a-z0-9+.-]*:", t, flags=re.I) and not t.startswith("#")]
    assert relative, "README.md should link to the documentation pages"
    missing = [t for t in relative if not (ROOT / t.split("#", 1)[0]).exists()]
    assert not missing, f"README.md links to files that do not exist: {missing}"
