"""Stage 1, preprocess: from a file, a PDF page or an image to the normalised pixel arrays the encoders take.

- `images`: open an image (EXIF orientation, RGB, one-line errors for damaged or unsupported files);
- `pdf`, `inputs`, `source`: PDF pages rendered at a known resolution (`DEFAULT_DPI`), folders and page ranges
  expanded into inputs, and where each page image came from;
- `modes`, `plan`: the named resolution modes as data and the tiling plan - grid, tile boxes, every token
  count - from the image size alone (the single source of token counts); `explain` says why a grid was
  chosen and how much the page is shrunk;
- `pixels`: Pillow-exact resizes and normalisation into the tile batch and the global view (`prepare`).

Nothing here needs a model or MLX: `engine.plan` answers questions about a page before any load.
"""
