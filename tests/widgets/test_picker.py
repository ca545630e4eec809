"""The subgraph picker: catalog names and TVMScript files; errors explained; ``subgraph`` observed."""

from __future__ import annotations


def test_picker_loads_catalog_files_and_explains_errors(tmp_path):
    from widgets import SubgraphPicker

    seen = []
    picker = SubgraphPicker("matmul_128")
    picker.observe(lambda change: seen.append(change["new"]), names="subgraph")
    assert picker.subgraph.name == "matmul_128" and "T.grid" in picker.tir.value
    assert picker.load("no_such_subgraph") is None and "no_such_subgraph" in picker.message.value
    assert picker.subgraph.name == "matmul_128" and not seen  # a failed load changes nothing
    path = tmp_path / "add.py"
    path.write_text(picker.subgraph.script())
    picker.path.value = str(path)
    picker.path_button.click()
    assert seen and seen[-1].name == "add" and picker.subgraph is seen[-1] and picker.message.value == ""
    picker.dropdown.value = "dense_512x32x512"
    assert picker.subgraph.name == "dense_512x32x512" and "dense_512x32x512" in picker.summary.value
    # Listing the catalog again (what "add its subgraphs" does once a model is extracted) keeps the pick open.
    seen.clear()
    picker.refresh_options()
    assert picker.dropdown.value == "dense_512x32x512" and picker.subgraph.name == "dense_512x32x512" and not seen
    # The search narrows the list; the pick stays open (and listed first) until another is chosen.
    picker.search.value = "conv2d 3x3"
    names = [v for _, v in picker.dropdown.options]
    assert names[0] == "dense_512x32x512" and len(names) > 2
    assert all("conv2d" in label and "3x3" in label for label, _ in picker.dropdown.options[1:])
    assert picker.subgraph.name == "dense_512x32x512" and not seen
    picker.dropdown.value = names[1]
    assert picker.subgraph.name == names[1]
    picker.search.value = ""
    assert len(picker.dropdown.options) == len(picker.catalog) and picker.dropdown.value == names[1]
