"""Write a real-size random-weight checkpoint to disk, in the real hub layout, for the resources benchmark.

What the deepseek-ai repos hold, only with random values: config.json of the real model
(`engine.testing.real_config`), every tensor of the expected-tensor table under its original name (per-expert
MoE tensors, OIHW convs) as bf16 safetensors split into shards with a `model.safetensors.index.json`, and a
small tokenizer (the config's vocabulary is the real one; ids past the tokenizer's decode to nothing, which
is all a benchmark needs).

Values are cut from one 16M-value Gaussian pool at random offsets (`models.from_pool`): billions of
independent normals would take minutes and the values only need to be realistic. One shard is in memory at a
time (~1.4 GB of bf16).

    python bench/checkpoint.py FOLDER [--version v2] [--shards 5]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import engine  # noqa: E402,F401  (loads the fast BLAS before MLX)
import mlx.core as mx  # noqa: E402
import numpy as np  # noqa: E402

from engine.testing import real_config, write_tokenizer  # noqa: E402
from engine.weights.config import parse_config  # noqa: E402
from engine.weights.expected import expected_tensors  # noqa: E402
from models import NORM_SUFFIXES, from_pool, random_pool  # noqa: E402


def _split(sizes: list[int], shards: int) -> list[int]:
    """Shard index of each tensor: consecutive runs of about equal bytes."""
    total, per, out, acc = sum(sizes), sum(sizes) / shards, [], 0
    for s in sizes:
        out.append(min(shards - 1, int(acc // per)))
        acc += s
    assert acc == total
    return out


def write_real_checkpoint(folder: str | Path, version: str = "v2", shards: int = 5, seed: int = 0,
                          config: dict | None = None) -> int:
    """Write the checkpoint into `folder` (created); return the bytes of its safetensors files. `config`: the
    config.json to write instead of the real one of `version` (e.g. fewer layers, `models.config`)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_tokenizer(folder, 300)
    config = config or real_config(version)
    (folder / "config.json").write_text(json.dumps(config, indent=1))
    table = expected_tensors(parse_config(config))
    names = sorted(table)
    sizes = [2 * int(np.prod(table[n])) for n in names]
    which = _split(sizes, shards)
    rng = np.random.default_rng(seed)
    pool = random_pool(rng)
    weight_map, written = {}, 0
    for s in range(shards):
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        part = {}
        for n, w in zip(names, which):
            if w != s:
                continue
            x = from_pool(pool, rng, table[n])
            x = 1.0 + 0.1 * x if n.endswith(NORM_SUFFIXES) else (0.02 if n.startswith(("model.layers", "lm_head"))
                                                                    else 0.05) * x
            part[n] = x.astype(mx.bfloat16)
            mx.eval(part[n])
            weight_map[n] = fname
        mx.save_safetensors(str(folder / fname), part, metadata={"format": "pt"})
        written += (folder / fname).stat().st_size
        del part
        mx.clear_cache()
    (folder / "model.safetensors.index.json").write_text(json.dumps(
        {"metadata": {"total_size": sum(sizes)}, "weight_map": weight_map}, indent=1))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--version", default="v2", choices=("v1", "v2"))
    ap.add_argument("--shards", type=int, default=5)
    args = ap.parse_args(argv)
    n = write_real_checkpoint(args.folder, args.version, args.shards)
    print(f"{args.folder}: {n / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
