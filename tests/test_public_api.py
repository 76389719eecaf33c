"""The public API is exactly what ``__all__`` says, and every name in it exists."""

import synthmed


def test_all_names_exist_and_are_sorted():
    assert synthmed.__all__ == sorted(synthmed.__all__)
    for name in synthmed.__all__:
        assert hasattr(synthmed, name), name


def test_public_entry_points_are_documented():
    for name in ("load_dataset", "infer_schema", "get_generator", "evaluate", "generate",
                 "train_holdout_split"):
        doc = getattr(synthmed, name).__doc__
        assert doc and "Example" in doc, name
