"""The container's settings: read from the environment once, and the one targets accessor."""

from bedrock_gateway import settings


def test_targets_file_env_var(tmp_path, monkeypatch):
    path = tmp_path / "x.toml"
    path.write_text('[targets.only]\nmodel = "anthropic.claude-v2"\n')
    monkeypatch.setenv("TARGETS_FILE", str(path))
    settings.reset()
    try:
        assert list(settings.targets().targets) == ["only"]
    finally:
        monkeypatch.undo()
        settings.reset()


def test_settings_are_read_once_per_container(monkeypatch):
    settings.reset()
    try:
        monkeypatch.setenv("MAX_RECEIVE_COUNT", "7")
        assert settings.current().max_receive_count == 7
        monkeypatch.setenv("MAX_RECEIVE_COUNT", "9")
        assert settings.current().max_receive_count == 7  # cached: the environment is read once
        assert settings.targets() is settings.targets()
    finally:
        monkeypatch.undo()
        settings.reset()


def test_a_throttled_stream_answers_no_later_than_a_throttled_sync_call(monkeypatch):
    """Both doors back off the same way; the stream door tries fewer times (its caller waits for a first
    byte), so its 429 comes first. make bench measures it (throttled_stream_429).

    Read from a fresh copy of the module: the integration tests' session fixture sets both to 1 on the
    imported one, and it stays set until the session ends."""
    import importlib.util
    import sys

    from bedrock_gateway import settings

    spec = importlib.util.spec_from_file_location("shipped_settings", settings.__file__)
    shipped = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, shipped)  # its dataclasses look their module up
    spec.loader.exec_module(shipped)
    assert 1 <= shipped.STREAM_OPEN_ATTEMPTS < shipped.SYNC_ATTEMPTS
