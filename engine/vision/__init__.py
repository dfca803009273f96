"""Stage 2, vision: the normalised views of a page in, the image embeddings that fill its prompt slots out.

- `sam`: SAM-B (ViT-B/16 with windowed and global attention, decomposed relative positions, the neck);
- `clip`: CLIP-L/14 over SAM's features (v1); `causal_flow`: the Qwen2 "visual causal flow" encoder (v2);
- `encoder`: `VisionV1` / `VisionV2`, SAM then the second encoder then the projector, all tiles and the global
  view in one batched graph (`encode_images`, with a tile budget per graph);
- `layout`: the embedding rows in the order the prompt's image slots take them (v1's mosaic with newlines,
  v2's tiles then global view); `interpolate`, `norm`: position-table resizing and LayerNorm.

Plain MLX modules; the operations whose fastest form depends on the device come from `runtime.ops`.
"""
