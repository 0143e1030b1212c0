def test_import():
    import app  # noqa: F401
