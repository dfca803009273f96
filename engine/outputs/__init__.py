"""Stage 5, outputs: from the model's raw text to what a user keeps.

- `grounding`: the `<|ref|>` / `<|det|>` boxes parsed into regions in image pixels;
- `markdown`: the raw text cleaned into markdown (figures linked, math and table styles), plain text, one line
  and TSV tables for the clipboard;
- `clean_stream`: the clean markdown of a run while it is decoded, in pieces that are never taken back;
- `export`: results written as .md (figures cropped beside it), .txt, .json or .pdf, under safe names;
- `searchable_pdf`: searchable PDFs (the page image with the text invisible on top), one page or many;
- `files`: atomic writes and their errors (`ExportError`), shared by the writers.
"""
