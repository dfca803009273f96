"""DSOCR inside other programs, through their own plugin interfaces (no Qt here).

- `ocrmypdf.py`     - an OCRmyPDF OCR engine plugin: `ocrmypdf --plugin engine.integrations.ocrmypdf in.pdf out.pdf`.
- `shared_model.py` - one model per process for such hosts, run by an in-process `OcrService` whose worker
                      thread owns it; the host's threads hand it pages and wait for their results.
"""
