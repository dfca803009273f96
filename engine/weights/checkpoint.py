"""Find a checkpoint (local folder or Hugging Face repo id) and read its tensors safely.

Hub downloads are restricted to safetensors, JSON and tokenizer files: never pickles, never remote code.
Safetensors are read with `mx.load` (one file or a sharded index). A truncated or damaged file is a clear
CheckpointError, not a traceback.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Callable

import mlx.core as mx

from .errors import CheckpointError

# What a hub download fetches: weights as safetensors, JSON (config, index, tokenizer) and the tokenizer's
# data files. Never pickles (*.bin, *.pt, *.pth, *.ckpt, *.pkl) and never code (*.py).
ALLOW_PATTERNS = ["*.safetensors", "*.json", "tokenizer.model", "*.txt"]
DEFAULT_REPOS = {"v1": "deepseek-ai/DeepSeek-OCR", "v2": "deepseek-ai/DeepSeek-OCR-2", "unlimited": "baidu/Unlimited-OCR"}
_REPO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def is_repo_id(name: str) -> bool:
    return bool(_REPO_ID.match(name)) and not Path(name).exists()


def hub_download_size(repo_id: str) -> int | None:
    """Bytes that `resolve` would download for a repo (None when the hub cannot be asked)."""
    try:
        from fnmatch import fnmatch

        from huggingface_hub import HfApi

        info = HfApi().model_info(repo_id, files_metadata=True)
        return sum((s.size or 0) for s in info.siblings if any(fnmatch(s.rfilename, p) for p in ALLOW_PATTERNS))
    except Exception:  # noqa: BLE001 - offline or unknown: the size is only informative
        return None


def pending_download_size(model: str | os.PathLike) -> int | None:
    """Bytes that loading `model` would download first: None for a local folder, a repo already in the Hugging
    Face cache, offline mode, or a hub that cannot be asked (then there is nothing worth announcing)."""
    name = str(model)
    if not is_repo_id(name):
        return None
    try:
        from huggingface_hub import constants, try_to_load_from_cache

        if constants.HF_HUB_OFFLINE or isinstance(try_to_load_from_cache(name, "config.json"), str):
            return None
    except Exception:  # noqa: BLE001 - the size is only informative
        return None
    return hub_download_size(name) or None


def resolve(model: str | os.PathLike, progress: Callable | None = None, allow_patterns: list[str] | None = None
            ) -> Path:
    """A local model folder for `model` (a folder, or a hub repo id fetched into the Hugging Face cache).

    `progress`, if given, is a tqdm-compatible class used for the download progress bars; `allow_patterns`:
    the files a hub download fetches (default `ALLOW_PATTERNS`, the whole checkpoint)."""
    path = Path(model).expanduser()
    if path.exists():
        if not path.is_dir():
            raise CheckpointError(f"{model}: is a file; give the model folder that holds config.json")
        return path
    name = str(model)
    if not is_repo_id(name):
        raise CheckpointError(f"{model}: no such folder, and not a Hugging Face repo id (owner/name)")
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError, RepositoryNotFoundError
    except ImportError:  # pragma: no cover - a runtime dependency
        raise CheckpointError("huggingface-hub is not installed; pip install huggingface-hub") from None
    kwargs = {"repo_id": name, "allow_patterns": allow_patterns or ALLOW_PATTERNS}
    if progress is not None:
        kwargs["tqdm_class"] = progress
    try:
        return Path(snapshot_download(**kwargs))
    except RepositoryNotFoundError:
        raise CheckpointError(f"{name}: no such model on the Hugging Face hub (or it is private)") from None
    except LocalEntryNotFoundError:
        raise CheckpointError(
            f"{name}: not in the local Hugging Face cache and the hub cannot be reached; connect to the "
            "internet once to download it, or give a local model folder") from None
    except Exception as e:  # noqa: BLE001 - network errors come in many types
        raise CheckpointError(f"{name}: download failed ({type(e).__name__}: {e}); check the connection "
                              "and try again") from None


def safetensors_files(folder: Path) -> list[Path]:
    """The checkpoint's safetensors files: from the index if there is one, else every *.safetensors."""
    index = folder / "model.safetensors.index.json"
    if index.exists():
        try:
            names = sorted(set(json.loads(index.read_text())["weight_map"].values()))
        except (OSError, KeyError, json.JSONDecodeError) as e:
            raise CheckpointError(f"{index}: damaged index ({e}); re-download the model") from None
        files = [folder / n for n in names]
        missing = [f.name for f in files if not f.exists()]
        if missing:
            raise CheckpointError(f"{folder}: shard(s) {', '.join(missing)} named in the index are missing; "
                                  "the download is incomplete, download the model again")
        return files
    files = sorted(folder.glob("*.safetensors"))
    if not files:
        if any(folder.glob("*.bin")) or any(folder.glob("*.pt")) or any(folder.glob("*.pth")):
            raise CheckpointError(f"{folder}: only pickle (.bin/.pt) weights found; DSOCR loads safetensors only: "
                                  "download the safetensors version of the model")
        raise CheckpointError(f"{folder}: no .safetensors weights found; the download is incomplete or this is "
                              "not a model folder: download the model again or give the right folder")
    return files


def _check_header(path: Path) -> None:
    """Verify that the file is as long as its safetensors header says (catches truncated downloads)."""
    size = path.stat().st_size
    with open(path, "rb") as f:
        head = f.read(8)
        if len(head) < 8:
            raise CheckpointError(f"{path}: truncated ({size} bytes); download the model again")
        n = struct.unpack("<Q", head)[0]
        if n > size - 8 or n > 100_000_000:
            raise CheckpointError(f"{path}: not a safetensors file or truncated; download the model again")
        try:
            header = json.loads(f.read(n))
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise CheckpointError(f"{path}: damaged safetensors header; download the model again") from None
    end = max((v["data_offsets"][1] for k, v in header.items() if k != "__metadata__"), default=0)
    if 8 + n + end > size:
        raise CheckpointError(f"{path}: truncated ({size} of {8 + n + end} bytes); download the model again")


def read_tensors(folder: Path) -> dict[str, mx.array]:
    """All tensors of the checkpoint in `folder`, as stored (bf16 stays bf16)."""
    weights: dict[str, mx.array] = {}
    for f in safetensors_files(folder):
        _check_header(f)
        try:
            weights.update(mx.load(str(f)))
        except Exception as e:  # noqa: BLE001 - mx.load raises RuntimeError/ValueError for bad files
            raise CheckpointError(f"{f}: cannot read the weights ({e}); download the model again") from None
    return weights
