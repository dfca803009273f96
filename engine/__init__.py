"""DSOCR engine: DeepSeek-OCR (v1), DeepSeek-OCR-2 (v2) and Unlimited-OCR on MLX. No Qt here; the app uses only
this API.

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
    p.candidates, engine.scale_note(p)                               # the grids weighed; "page enlarged 1.1x ..."
    model = engine.load("deepseek-ai/DeepSeek-OCR-2")              # hub id or local folder
    options = engine.RunOptions(task="markdown")                    # every run option, defaults written once
    for event in engine.stream(model, "page.png", options):
        ...
    result = engine.ocr(model, "page.png", options.replace(max_tokens=200))

    doc = engine.load("baidu/Unlimited-OCR")                         # a whole document in one pass
    engine.plan_for(doc, sizes, options).to_dict()                  # its token budget, no pixels needed
    for event in engine.stream_document(doc, ["p1.png", "p2.png"], options):
        ...                                                         # TextDeltas, then a DocumentResult
"""

from __future__ import annotations

from .runtime.allocator import keep_freed_memory

keep_freed_memory()  # first, before any thread allocates: glibc reuses freed buffers instead of faulting in new ones

from .runtime.blas import calm_numpy_blas, load_fast_blas  # noqa: E402

load_fast_blas()  # before mlx.core is imported anywhere: MLX then uses the optimized BLAS on Linux
calm_numpy_blas()  # numpy's own OpenBLAS: idle threads sleep instead of spinning (busy machines)

from .runtime.device import exact_float32, small_cuda_graphs  # noqa: E402

exact_float32()  # float32 stays float32 on GPUs (MLX's default there is TF32 matrix products)
small_cuda_graphs()  # a CUDA GPU's command graphs hold 128 MB, not up to 1000 (memory, and the GPU starts sooner)

from .language.prompt import TASKS, task_prompt  # noqa: E402
from .model import Model, load  # noqa: E402
from .options import Decoding, Output, Recovery, RunOptions, Tiling  # noqa: E402
from .outputs.export import ExportError, atomic_write, export_result, output_stem, unique_path  # noqa: E402
from .outputs.export import export_json  # noqa: E402
from .outputs.grounding import Box, Region, parse_grounding  # noqa: E402
from .language.recovery import DEFAULT_PENALTY, Attempt  # noqa: E402
from .outputs.markdown import (MATH_STYLES, TABLE_STYLES, clean_markdown, plain_text, renderable_markdown,  # noqa: E402
                               single_line, tables_tsv)
from .outputs.searchable_pdf import SearchablePdf, pdf_documents  # noqa: E402
from .outputs.codes import MOSTLY_CODE, Code, code_url, mostly_code, read_codes  # noqa: E402
from .pipeline import Result, Rollback, TextDelta, ocr, stream, stream_batch  # noqa: E402
from .document import DocumentResult, ocr_document, plan_for, stream_document  # noqa: E402
from .preprocess.document import DocumentPlan, page_ranges, plan_document  # noqa: E402
from .language.prompt import PAGE_MARK  # noqa: E402
from .preprocess.modes import DOCUMENT_MODE, VERSION_NAMES, VERSIONS, family  # noqa: E402
from .outputs.pages import join_pages, split_pages  # noqa: E402
from .preprocess.explain import grid_reason, scale_note, small_text_rule, small_text_warning  # noqa: E402
from .preprocess.images import ImageError, image_size, open_image  # noqa: E402
from .preprocess.inputs import IMAGE_SUFFIXES, InputItem, expand_inputs, is_pdf  # noqa: E402
from .preprocess.modes import DEFAULT_TILES, MODES, TILE_RANGE, get_mode  # noqa: E402
from .preprocess.pdf import DEFAULT_DPI, InputError, parse_page_ranges, pdf_page_count, render_pdf_pages  # noqa: E402
from .preprocess.plan import Candidate, TilePlan, parse_grid, plan  # noqa: E402
from .runtime.blas import blas_library  # noqa: E402
from .testing import write_tiny_checkpoint  # noqa: E402
from .weights.checkpoint import DEFAULT_REPOS, hub_download_size, is_repo_id  # noqa: E402
from .weights.checkpoint import pending_download_size  # noqa: E402
from .preprocess.plan import check_tile_limits  # noqa: E402
from .weights.errors import CheckpointError  # noqa: E402

__version__ = "0.1.0"

__all__ = [
    "Attempt", "DEFAULT_PENALTY", "MATH_STYLES", "Rollback", "TABLE_STYLES", "renderable_markdown",
    "Box", "CheckpointError", "IMAGE_SUFFIXES", "InputItem", "expand_inputs", "is_pdf", "is_repo_id", "DEFAULT_REPOS", "DEFAULT_TILES", "ExportError", "ImageError", "InputError", "MODES",
    "Model", "Region", "Result", "SearchablePdf", "TASKS", "TILE_RANGE", "TextDelta", "TilePlan", "__version__", "atomic_write",
    "blas_library", "clean_markdown", "export_result", "get_mode", "hub_download_size", "image_size", "load", "ocr",
    "open_image", "output_stem", "parse_grounding", "pdf_documents", "parse_page_ranges", "pdf_page_count", "plain_text", "plan",
    "render_pdf_pages", "single_line", "stream", "stream_batch", "tables_tsv", "task_prompt", "unique_path",
    "write_tiny_checkpoint",
    "pending_download_size", "check_tile_limits", "export_json",
    "DEFAULT_DPI", "RunOptions", "Tiling", "Decoding", "Recovery", "Output",  # a run's options
    "Candidate", "grid_reason", "parse_grid", "scale_note", "small_text_rule", "small_text_warning",  # tiling inspector
    "DocumentResult", "DocumentPlan", "ocr_document", "plan_for", "stream_document", "plan_document",  # documents
    "page_ranges", "join_pages", "split_pages", "PAGE_MARK", "DOCUMENT_MODE", "VERSION_NAMES", "VERSIONS", "family",
    "Code", "MOSTLY_CODE", "code_url", "mostly_code", "read_codes",  # QR codes and barcodes
]
