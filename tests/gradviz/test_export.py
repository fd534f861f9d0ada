"""Export to .svg/.png/.pdf/.dot: valid files, the view's labels and styles, clear errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from gradviz import layout as layout_mod
from gradviz.collapse import CollapseOptions
from gradviz.export import export_graph, positioned_dot
from gradviz.layout import GraphvizMissing, clear_cache, layout_graph
from tests.gradviz.test_collapse import builtin_sum_graph, example2_graph

SVG = "{http://www.w3.org/2000/svg}"


@pytest.fixture(autouse=True)
def fresh_cache():
    clear_cache()
    yield
    clear_cache()


def svg_texts(path) -> list[str]:
    root = ET.parse(path).getroot()
    assert root.tag == f"{SVG}svg"
    return [t.text for t in root.iter(f"{SVG}text")]


def test_svg_of_example_2_has_every_label(tmp_path):
    out = export_graph(example2_graph(), tmp_path / "net.svg")
    texts = svg_texts(out)
    for label in ("w1", "(1000, 100)", "x", "(64, 1000)", "MmBackward0", "ClampBackward1",
                  "SubBackward0", "PowBackward0", "SumBackward0", "AccumulateGrad"):
        assert label in texts, label
    svg = out.read_text()
    assert "#add8e6" in svg and "#caff70" in svg  # torchviz's leaf and root colours


def test_svg_of_a_collapsed_builtin_sum_shows_the_group_and_the_count(tmp_path):
    texts = svg_texts(export_graph(builtin_sum_graph(2000), tmp_path / "sum.svg"))
    assert "AddBackward0 ×2000" in texts and "×2000" in texts
    assert "UnbindBackward0" in texts and "MulBackward0" in texts


def test_png_and_pdf_are_real_files(tmp_path):
    png = export_graph(builtin_sum_graph(2), tmp_path / "g.png").read_bytes()
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    pdf = export_graph(builtin_sum_graph(2), tmp_path / "g.PDF").read_bytes()
    assert pdf.startswith(b"%PDF-") and b"%%EOF" in pdf[-64:]


def test_dot_is_the_plain_source_with_labels_and_styles(tmp_path):
    text = export_graph(example2_graph(), tmp_path / "g.dot",
                        CollapseOptions(hide_no_grad=True)).read_text()
    assert text.startswith("digraph gradviz {") and text.rstrip().endswith("}")
    assert '"n0" [label="w1\\n(1000, 100)"' in text and '"n10" -> "n11"' in text
    assert "rankdir=TB" in text and "#add8e6" in text
    assert '"n2"' not in text  # x requires no grad: hidden as asked


def test_export_uses_the_laid_out_positions(tmp_path):
    # a degraded (Python) layout exports as it is shown, not laid out again
    g = builtin_sum_graph(30)
    opts = CollapseOptions(chains=False)
    lay = layout_graph(g, opts, timeout=1e-4)
    assert lay.engine == "python"
    source = positioned_dot(lay)
    assert source.count("pos=") == len(lay.boxes) + len(lay.edges)
    out = tmp_path / "g.svg"
    out.write_bytes(layout_mod.run_graphviz(source, ["-Kneato", "-n2", "-Tsvg"], 10))
    assert "AddBackward0 ×30" in svg_texts(out)


def test_unknown_suffix_and_json_are_clear_errors(tmp_path):
    with pytest.raises(ValueError, match=r"unknown suffix \.jpg.*\.svg"):
        export_graph(example2_graph(), tmp_path / "g.jpg")
    with pytest.raises(ValueError, match="unknown suffix"):
        export_graph(example2_graph(), tmp_path / "graph")
    with pytest.raises(ValueError, match="gradviz.trace_io"):
        export_graph(example2_graph(), tmp_path / "trace.json")


def test_json_goes_to_the_writer_it_is_given(tmp_path):
    seen = []
    out = export_graph(example2_graph(), tmp_path / "t.json",
                       json_writer=lambda g, p: seen.append((len(g.nodes), p.name)))
    assert out == tmp_path / "t.json" and seen == [(12, "t.json")]


def test_missing_dot_is_a_clear_error_but_dot_text_still_works(tmp_path, monkeypatch):
    monkeypatch.setattr(layout_mod, "DOT", "gradviz-no-such-dot")
    with pytest.raises(GraphvizMissing, match="install graphviz"):
        export_graph(example2_graph(), tmp_path / "g.svg")
    assert export_graph(example2_graph(), tmp_path / "g.dot").exists()
