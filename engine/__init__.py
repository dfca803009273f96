"""DSOCR engine: DeepSeek-OCR (v1) and DeepSeek-OCR-2 (v2) on MLX. No Qt here; the app uses only this API.

The data's path from image to text, one package per stage:

1. `engine.preprocess` - open the image, plan the tiles (`plan`), make the normalised pixel arrays.
2. `engine.vision`     - SAM-B, then CLIP-L (v1) or the Qwen2 causal-flow encoder (v2), the projector and
                         the embedding layout; all tiles and the global view in one batched graph.
3. `engine.language`   - the DeepSeek MoE language model, prompts, the KV cache and streaming generation.
4. `engine.weights`    - config.json, tokenizer, checkpoint layouts and loading (`load`).
5. `engine.outputs`    - grounding boxes, markdown clean-up and exports.

Public API::

    import engine
    p = engine.plan((1240, 1754), version="v1", mode="gundam")      # no model needed
    model = engine.load("deepseek-ai/DeepSeek-OCR-2")              # hub id or local folder
    for event in engine.stream(model, "page.png", task="markdown"):
        ...
    result = engine.ocr(model, "page.png")
"""

from __future__ import annotations

from .runtime.blas import load_fast_blas

load_fast_blas()  # before mlx.core is imported anywhere: MLX then uses the optimized BLAS on Linux

from .preprocess.images import ImageError, open_image  # noqa: E402
from .preprocess.modes import MODES, get_mode  # noqa: E402
from .preprocess.plan import TilePlan, plan  # noqa: E402
from .weights.errors import CheckpointError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "CheckpointError", "ImageError", "MODES", "TilePlan", "__version__", "get_mode", "open_image", "plan",
]
