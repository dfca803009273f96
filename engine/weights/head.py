"""A checkpoint's config.json and tokenizer without its weights: what a command may learn about a model
(its version, its context, a prompt's token count) before loading it, or instead of loading it.

`model_version` reads only what is on this machine already (a local folder, or a hub model in the Hugging
Face cache; the default repos are known by name) and never downloads; `read_head` fetches a hub model's
config and tokenizer files alone (a few MB) when they are not in the cache.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..preprocess.document import DEFAULT_CONTEXT
from .checkpoint import DEFAULT_REPOS, is_repo_id, resolve
from .config import CheckpointConfig, read_config
from .tokenizer import Tokenizer

HEAD_FILES = ["config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"]


@dataclass
class Head:
    """A model's parsed config and its tokenizer."""

    folder: Path
    config: CheckpointConfig
    tokenizer: Tokenizer

    @property
    def version(self) -> str:
        return self.config.version

    @property
    def context(self) -> int:
        """The tokens a prompt and its output may take together."""
        return int(self.config.language.get("max_position_embeddings") or DEFAULT_CONTEXT)


def read_head(model: str | os.PathLike) -> Head:
    """The config and tokenizer of `model` (a folder, or a hub id: only those files are downloaded). Raises
    CheckpointError with a clear message."""
    folder = resolve(model, allow_patterns=HEAD_FILES)
    return Head(folder, read_config(folder), Tokenizer(folder))


def model_version(model: str | os.PathLike) -> str | None:
    """The version ("v1", "v2", "unlimited") of `model` without downloading anything: a local folder's
    config.json (a broken one raises CheckpointError, as loading would), a default repo by name, a hub model's
    cached config.json; None when it cannot be known before loading."""
    path = Path(model).expanduser()
    if path.exists():
        return read_config(resolve(path)).version
    name = str(model)
    if not is_repo_id(name):
        resolve(name)  # raises the error loading would raise (no such folder, not a repo id)
    known = {repo: version for version, repo in DEFAULT_REPOS.items()}
    if name in known:
        return known[name]
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(name, "config.json")
        return read_config(Path(cached).parent).version if isinstance(cached, str) else None
    except Exception:  # noqa: BLE001 - unknown here; loading the model will tell
        return None
