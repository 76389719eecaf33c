"""The public API is exactly what ``__all__`` says, every name in it exists, and the README's
Python examples run as written."""

from pathlib import Path
import re

import pytest

import synthmed

README = Path(__file__).resolve().parents[1] / "README.md"


def test_all_names_exist_and_are_sorted():
    assert synthmed.__all__ == sorted(synthmed.__all__)
    for name in synthmed.__all__:
        assert hasattr(synthmed, name), name


def test_public_entry_points_are_documented():
    for name in ("load_dataset", "infer_schema", "get_generator", "evaluate", "generate",
                 "generate_longitudinal", "generate_signals", "train_holdout_split"):
        doc = getattr(synthmed, name).__doc__
        assert doc and "Example" in doc, name


@pytest.mark.slow
def test_the_readme_python_examples_run(tmp_path, capsys, monkeypatch):
    """Tables, patients over time, signals and a release mode, as the README shows them."""
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), re.S)
    assert blocks
    monkeypatch.chdir(tmp_path)  # the examples write out/ and model/ where they run
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
    printed = capsys.readouterr().out
    assert re.search(r"(pass|warn|fail) 0\.\d+", printed)
    assert (tmp_path / "out" / "ecg" / "report.html").is_file()
    assert (tmp_path / "out" / "pbcseq" / "synthetic.csv").is_file()

