"""The tile plans and token counts of a request's pages, no model needed: `POST /v1/plan` and the MCP `plan`
tool. Every bad input is an `ApiError` saying what is wrong."""

from __future__ import annotations

from pathlib import Path

from ..preprocess.modes import family
from ..preprocess.plan import plan
from . import requests as rq
from .errors import ApiError
from .settings import ServeSettings

TILING_FIELDS = ("mode", "min_tiles", "max_tiles", "grid")


def plan_of(size, version: str, tiling, label: str | None = None, page: int | None = None) -> dict:
    """The plan (`TilePlan.to_dict()`) of an image of `size` for `version` (v1, v2, or a model version whose
    tiling is theirs), headed by its input and page when it has them."""
    try:
        version = family(version)
    except (KeyError, ValueError):
        raise ApiError(400, f"version: {version!r} is not v1 or v2", param="version") from None
    if not (isinstance(size, (list, tuple)) and len(size) == 2 and all(isinstance(v, int) and v > 0 for v in size)):
        raise ApiError(400, "size: give [width, height] in pixels", param="size")
    try:
        p = plan(tuple(size), version, tiling.mode, tiling.min_tiles, tiling.max_tiles, tiling.grid)
    except ValueError as e:
        raise ApiError(400, str(e)) from None
    head = {"input": label, "page": page} if label is not None else {}
    return {**head, **p.to_dict()}


def plan_size(size, fields: dict, settings: ServeSettings, default_version: str) -> dict:
    """The plan of an image of `size` ([width, height]) with the tiling options in `fields` (and `version`)."""
    fields = dict(fields)
    version = fields.pop("version", None) or default_version
    unknown = sorted(set(fields) - set(TILING_FIELDS))
    if unknown:
        raise ApiError(400, f"unknown option(s) {', '.join(unknown)} for a plan", param=unknown[0])
    return plan_of(size, version, rq.build_options(fields, settings).tiling)


def plan_pages(data: bytes | None, path: Path | None, name: str, fields: dict, settings: ServeSettings,
               default_version: str) -> list[dict]:
    """The plans of an image's or a PDF's pages (`pages`, `dpi`), as `/v1/ocr` would read them."""
    fields = dict(fields)
    version = fields.pop("version", None) or default_version
    req = rq.parse_ocr(data, path, name, fields, settings)
    return [plan_of(image.size, version, req.options.tiling, label, page) for label, page, image in req.pages]
