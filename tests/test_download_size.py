"""`engine.pending_download_size`: what a first load would download, asked the same way by the CLI and the app."""

import engine
from engine.weights import checkpoint


def test_nothing_to_download(tmp_path, monkeypatch):
    asked = []
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: asked.append(repo) or 6_670_000_000)
    assert engine.pending_download_size(tmp_path) is None  # a local folder
    assert engine.pending_download_size("not a repo id") is None
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda repo, name: "/cache/config.json")
    assert engine.pending_download_size("someone/cached-model") is None  # already in the cache
    assert asked == []


def test_a_first_download(monkeypatch):
    monkeypatch.setattr("huggingface_hub.try_to_load_from_cache", lambda repo, name: None)
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: 6_670_000_000)
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    assert engine.pending_download_size("someone/fresh-model") == 6_670_000_000
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", True)
    assert engine.pending_download_size("someone/fresh-model") is None  # offline: nothing will be fetched
    monkeypatch.setattr("huggingface_hub.constants.HF_HUB_OFFLINE", False)
    monkeypatch.setattr(checkpoint, "hub_download_size", lambda repo: None)
    assert engine.pending_download_size("someone/fresh-model") is None  # the hub cannot be asked
