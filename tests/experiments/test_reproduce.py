"""The figure record: valid, shown in the README as recorded, and compared with the right tolerance."""
import json

import pytest

from experiments import reproduce


def test_every_record_is_valid_and_its_figures_appear_in_the_readme():
    records = reproduce.load_records()
    assert any(r["cheap"] for r in records), "CI needs at least one cheap record"
    assert reproduce.check_readme(records) == []


def test_a_figure_missing_from_its_readme_section_is_named(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("## Results\n\n### VAE\n\n| vae | -88.28 |\n\n### GAN\n\n| gan | 3.53 |\n")
    rec = {"name": "r", "readme_section": "VAE", "metrics": {"elbo": {"value": -88.2841, "readme": "-88.28"},
                                                            "fd": {"value": 3.53, "readme": "3.53"}}}
    problems = reproduce.check_readme([rec], path=str(readme))
    assert problems == ["r: fd = '3.53' is not in README section 'VAE'"]  # 3.53 is in another section
    rec["readme_section"] = "Diffusion"
    assert "no section" in reproduce.check_readme([rec], path=str(readme))[0]


def test_sections_nest_by_heading_level(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("## A\na\n### B\nb\n## C\nc\n")
    s = reproduce.readme_sections(str(readme))
    assert "b" in s["A"] and "c" not in s["A"] and s["B"].strip() == "b" and s["C"].strip() == "c"


def test_compare_uses_the_tolerance_and_the_rounding_slack():
    rec = {"metrics": {"a": {"value": 1.0, "tolerance": 0}, "b": {"value": 2.0, "tolerance": 0.1},
                       "c": {"value": 3.0, "tolerance": 0}}}
    rows = {k: ok for k, _, _, _, ok in reproduce.compare(rec, {"a": 1.00004, "b": 2.09})}
    assert rows == {"a": True, "b": True, "c": False}  # c missing from the result
    rows = {k: ok for k, _, _, _, ok in reproduce.compare(rec, {"a": 1.0002, "b": 2.2, "c": 3.0})}
    assert rows == {"a": False, "b": False, "c": True}


@pytest.mark.parametrize("bad, message", [
    ({"name": "x"}, "lacks"),
    ({"name": "x", "commands": [["--mode=eval"]], "metrics": {}, "readme_section": "A", "minutes": 1,
      "cheap": True}, "one --config=FILE"),
    ({"name": "x", "commands": [["--config=experiments/configs/nope.py"]], "metrics": {},
      "readme_section": "A", "minutes": 1, "cheap": True}, "does not exist"),
    ({"name": "x", "commands": [["--config=experiments/configs/vae_digits.py", "--workdir=/tmp/a"]],
      "metrics": {}, "readme_section": "A", "minutes": 1, "cheap": True}, "workdir is chosen"),
])
def test_a_bad_record_is_named(tmp_path, bad, message):
    path = tmp_path / "figures.json"
    path.write_text(json.dumps([bad]))
    with pytest.raises(reproduce.RecordError, match=message):
        reproduce.load_records(str(path))


def test_the_last_json_line_of_a_run_is_its_result():
    out = "trained steps 0..10 in 1.0s; results: {...}\n{\"elbo\": -1.5, \"samples/fd\": 2.0}\n"
    assert reproduce._last_json(out) == {"elbo": -1.5, "samples/fd": 2.0}
    with pytest.raises(RuntimeError, match="no JSON"):
        reproduce._last_json("nothing here\n")
