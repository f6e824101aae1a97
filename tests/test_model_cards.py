"""The model cards: one per registered model, figures equal to the manifest's, links that
resolve (files and #anchors) across README.md and docs/."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

from restore.zoo import build_model, get_spec, list_models
from restore.zoo.registry import read_manifest

REPO = Path(__file__).resolve().parents[1]
DOCS = REPO / "docs"
HEADER = ["task", "architecture", "params", "weights", "training data", "training", "licence", "known limits"]


def _figures_module():
    spec = importlib.util.spec_from_file_location("card_figures", DOCS / "models" / "figures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _header(card: str) -> dict[str, str]:
    """The card's first table, ``{field: value}``."""
    rows = re.findall(r"^\| ([^|]+?) \| (.+) \|$", card.split("\n## ", 1)[0], flags=re.M)
    return {k: v for k, v in rows if k != "field" and not set(k) <= {"-"}}


@pytest.mark.parametrize("name", list_models())
def test_card_header(name):
    card = (DOCS / "models" / f"{name}.md").read_text()
    assert card.startswith(f"# {name}\n")
    header = _header(card)
    assert list(header) == HEADER, list(header)
    spec = get_spec(name)
    params = sum(p.numel() for p in build_model(spec).parameters())
    assert header["params"].startswith(f"{params / 1e6:.2f} M ({params:,})"), header["params"]
    size = read_manifest()[name]["bytes"]
    assert f"`{spec.weights}`, {size:,} bytes ({size / 2**20:.1f} MiB)" in header["weights"], header["weights"]
    assert header["task"].startswith(spec.task + ":")
    assert "non-commercial research only" in header["licence"]


def test_cards_hold_the_manifest_figures():
    figures = _figures_module()
    assert sorted(figures.COMMANDS) == list_models()
    stale = figures.update(check=True)
    assert not stale, f"run python docs/models/figures.py: {stale}"


def test_figures_block_follows_the_manifest():
    figures = _figures_module()
    manifest = read_manifest()
    block = figures.figures_block("dae-s", manifest)
    b = manifest["dae-s"]["bench"]["CBSD68 sigma25"]
    assert f"| CBSD68 sigma25 | {b['psnr']:.2f} | {b['ssim']:.4f} | {b['s_per_mp']:.2f} | {b['images']} | [1] |" in block
    manifest["dae-s"]["bench"]["CBSD68 sigma25"]["psnr"] = 31.0
    assert "| CBSD68 sigma25 | 31.00 |" in figures.figures_block("dae-s", manifest)
    del manifest["dae-s"]["bench"]["polyu real"]
    with pytest.raises(KeyError, match="polyu real"):
        figures.figures_block("dae-s", manifest)


def test_index_lists_every_card():
    index = (DOCS / "models.md").read_text()
    linked = re.findall(r"^\| \[([^\]]+)\]\(models/([^)]+)\.md\) \|", index, flags=re.M)
    assert [a for a, _ in linked] == [b for _, b in linked]
    assert sorted(a for a, _ in linked) == list_models()
    assert sorted(p.stem for p in (DOCS / "models").glob("*.md")) == list_models()



def test_readme_model_table_is_what_restore_models_prints():
    from restore.zoo.manifest import models_table

    readme = (REPO / "README.md").read_text()
    pasted = readme.split("Printed by `restore models`:\n\n", 1)[1].split("\n\n", 1)[0]
    assert pasted == models_table().strip(), "paste the output of `restore models` into the README"

def _anchors(path: Path) -> set[str]:
    """GitHub's heading anchors of a markdown file."""
    out = set()
    for title in re.findall(r"^#+ (.+)$", path.read_text(), flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", title.strip().lower()).replace(" ", "-")
        out.add(slug)
    return out


@pytest.mark.parametrize("doc", ["README.md", *sorted(str(p.relative_to(REPO)) for p in DOCS.rglob("*.md"))])
def test_relative_links_resolve(doc):
    path = REPO / doc
    text = re.sub(r"```.*?```", "", path.read_text(), flags=re.S)
    for target in re.findall(r"\]\(([^)\s]+)\)", text):
        if re.match(r"[a-z]+:", target):
            continue
        file, _, anchor = target.partition("#")
        dest = (path.parent / file).resolve() if file else path
        assert dest.exists(), f"{doc}: link to missing {target}"
        if anchor and dest.suffix == ".md":
            assert anchor in _anchors(dest), f"{doc}: no heading #{anchor} in {dest.name}"
