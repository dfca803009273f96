"""Embedding layout: arrange projected view features into the rows that fill the prompt's image slots.

v1: the tile mosaic (tiles stitched in image coordinates) with `image_newline` after every mosaic row, then
the global view's rows each followed by a newline, then `view_seperator`.
v2: tile 0's queries, tile 1's, ... (row-major), the global view's queries, then `view_seperator`.
Every size comes from the tiling plan, and the result's length is checked against `plan.image_tokens`, so the
count a user is shown and the layout cannot disagree.
"""

from __future__ import annotations

import mlx.core as mx

from ..preprocess.plan import TilePlan


def _with_newlines(grid: mx.array, newline: mx.array) -> mx.array:
    """[rows, cols, H] -> [rows * (cols + 1), H] with `newline` after every row."""
    rows, _, hidden = grid.shape
    nl = mx.broadcast_to(newline.reshape(1, 1, hidden).astype(grid.dtype), (rows, 1, hidden))
    return mx.concatenate([grid, nl], axis=1).reshape(-1, hidden)


def layout_v1(plan: TilePlan, tiles: mx.array | None, global_view: mx.array, newline: mx.array,
              separator: mx.array) -> mx.array:
    """tiles [N, t*t, H] (row-major tile order) and global_view [g*g, H] -> [plan.image_tokens, H]."""
    hidden = global_view.shape[-1]
    g, t = plan.global_grid, plan.tile_grid
    parts = []
    if plan.tiled:
        cols, rows = plan.grid
        mosaic = tiles.reshape(rows, cols, t, t, hidden).transpose(0, 2, 1, 3, 4).reshape(rows * t, cols * t, hidden)
        parts.append(_with_newlines(mosaic, newline))
    parts.append(_with_newlines(global_view.reshape(g, g, hidden), newline))
    parts.append(separator.reshape(1, hidden).astype(global_view.dtype))
    out = mx.concatenate(parts, axis=0)
    _check(out, plan)
    return out


def layout_v2(plan: TilePlan, tiles: mx.array | None, global_view: mx.array, separator: mx.array) -> mx.array:
    """tiles [N, t*t, H] and global_view [g*g, H] -> [plan.image_tokens, H] (no newlines)."""
    hidden = global_view.shape[-1]
    parts = [tiles.reshape(-1, hidden)] if plan.tiled else []
    parts += [global_view.reshape(-1, hidden), separator.reshape(1, hidden).astype(global_view.dtype)]
    out = mx.concatenate(parts, axis=0)
    _check(out, plan)
    return out


def _check(out: mx.array, plan: TilePlan) -> None:
    if out.shape[0] != plan.image_tokens:  # shapes are static: no device synchronisation here
        raise AssertionError(f"layout produced {out.shape[0]} rows but the plan counts {plan.image_tokens}")
