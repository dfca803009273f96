"""The command line with Unlimited-OCR (issue 40): a PDF read as one document with its per-page and whole
outputs, --page-by-page, --document, --pages, documents split into page ranges, resuming, `dsocr plan`'s
document budget, quantized conversion, and the refusal of --document with a DeepSeek-OCR model."""

import json
import os
from pathlib import Path

import mlx.core as mx
import pytest
from PIL import Image
from pypdf import PdfReader

import engine
from engine import document as document_mod
from engine.cli.main import main

PAGES = Path(__file__).resolve().parents[1].parent / "shared" / "reference-unlimited" / "u2"
SCRIPT = "<PAGE>first page text<PAGE>second page text<PAGE>third page text"


@pytest.fixture(scope="session")
def unlimited(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("unl") / "u", "unlimited", window=8)


@pytest.fixture(scope="session")
def v2_model(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("unl") / "v2", "v2", seed=3)


@pytest.fixture
def docs(tmp_path):
    """doc.pdf of 3 pages (the u2 reference pages when present) and the pages as images."""
    if all((PAGES / f"page{k}.png").is_file() for k in (1, 2, 3)):
        pages = [Image.open(PAGES / f"page{k}.png").convert("RGB") for k in (1, 2, 3)]
    else:
        pages = [Image.new("RGB", size, (255, 255, 250 - 20 * k)) for k, size in
                 enumerate([(850, 1100), (1400, 900), (320, 200)])]
    pages[0].save(tmp_path / "doc.pdf", save_all=True, append_images=pages[1:])
    for k, p in enumerate(pages, 1):
        p.save(tmp_path / f"scan{k}.png")
    return tmp_path


class ScriptedLM:
    """The tiny model's language model, made to write `text` (then EOS) whatever it reads: the prefill's
    logits give the first token, each decode step the next."""

    def __init__(self, lm, ids):
        self.lm, self.ids, self.layers, self.step = lm, ids, lm.layers, 0

    def embed(self, ids):
        return self.lm.embed(ids)

    def make_cache(self, window=True):
        return self.lm.make_cache(window)

    def __call__(self, x, cache=None, last_only=False, **kw):
        out = self.lm(x, cache=cache, last_only=last_only, **kw)
        if x.shape[1] == 1:
            self.step += 1
        tok = self.ids[min(self.step, len(self.ids) - 1)]
        return out + 1000.0 * (mx.arange(out.shape[-1]) == tok)


@pytest.fixture
def scripted(monkeypatch):
    """Each prompt of a document writes its pages' marks and texts (`SCRIPT`'s first N pages); records the
    number of prompts and their page counts."""
    real = document_mod.generate_tokens
    parts = []

    def generate(lm, embeds, eos_id, *args, **kwargs):
        n = round((embeds.shape[0] - 18) / 273)  # 273 tokens per page, 18 of prompt text (tiny tokenizer)
        parts.append(n)
        text = "<PAGE>".join(SCRIPT.split("<PAGE>")[:n + 1])
        tok = TOKENIZERS[0]
        ids = tok.encode(text) + [eos_id]
        yield from real(ScriptedLM(lm, ids), embeds, eos_id, *args, **kwargs)

    monkeypatch.setattr(document_mod, "generate_tokens", generate)
    return parts


TOKENIZERS = []


@pytest.fixture(autouse=True)
def tokenizer(unlimited):
    if not TOKENIZERS:
        from engine.weights.tokenizer import Tokenizer

        TOKENIZERS.append(Tokenizer(unlimited))


def ocr(*args) -> int:
    return main(["ocr", *map(str, args)])


def err_lines(capsys) -> list[str]:
    return capsys.readouterr().err.strip().splitlines()


# ---- a PDF is one document -------------------------------------------------------------------------------

def test_a_pdf_is_one_document_with_per_page_and_whole_outputs(docs, unlimited, scripted, capsys):
    out = docs / "out"
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--out", out, "--format", "md,json,txt,pdf",
               "--ngram", 0, "--max-tokens", 200) == 0
    assert scripted == [3]  # one prompt for the 3 pages
    names = sorted(os.listdir(out))
    assert names == sorted([f"doc-p00{k}.{f}" for k in (1, 2, 3) for f in ("md", "json", "txt")]
                           + ["doc.md", "doc.txt", "doc.json", "doc.pdf"])
    for k, word in enumerate(("first", "second", "third"), 1):
        assert (out / f"doc-p00{k}.md").read_text().strip() == f"{word} page text"
        page = json.loads((out / f"doc-p00{k}.json").read_text())
        assert page["text"] == f"{word} page text" and "regions" in page and page["plan"]["mode"] == "base"
    whole = (out / "doc.md").read_text()
    assert whole == ("<!-- page 1 -->\n\nfirst page text\n\n<!-- page 2 -->\n\nsecond page text\n\n"
                     "<!-- page 3 -->\n\nthird page text\n")
    assert (out / "doc.txt").read_text().split("\f") == ["first page text\n", "second page text\n", "third page text\n"]
    data = json.loads((out / "doc.json").read_text())
    assert data["document"]["pages"] == 3 and data["document"]["page_tokens"] == [273] * 3
    assert data["document"]["ranges"] == [[1, 3]] and [p["page"] for p in data["pages"]] == [1, 2, 3]
    assert data["inputs"] == [str(docs / "doc.pdf")]
    texts = [p.extract_text() for p in PdfReader(out / "doc.pdf").pages]
    assert [t.strip() for t in texts] == ["first page text", "second page text", "third page text"]
    lines = err_lines(capsys)
    assert any(x.startswith(f"dsocr: [1/1] {docs / 'doc.pdf'} (3 pages as one document) -> {out / 'doc.md'}")
               for x in lines)


def test_page_by_page_reads_each_page_on_its_own(docs, unlimited, scripted, capsys):
    out = docs / "pbp"
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--out", out, "--page-by-page", "--max-tokens", 3) == 0
    assert scripted == []  # no document prompt
    assert sorted(os.listdir(out)) == ["doc-p001.md", "doc-p002.md", "doc-p003.md"]
    lines = err_lines(capsys)
    assert [x.split(" -> ")[0] for x in lines if x.startswith("dsocr: [")] == [
        f"dsocr: [{k}/3] {docs / 'doc.pdf'} page {k}" for k in (1, 2, 3)]


def test_document_reads_images_in_the_order_given(docs, unlimited, scripted, capsys):
    out = docs / "imgs"
    assert ocr(docs / "scan3.png", docs / "scan1.png", "--document", "--model", unlimited, "--out", out,
               "--format", "md,json,pdf", "--ngram", 0) == 0
    assert scripted == [2]
    assert (out / "scan3.md").read_text().strip() == "first page text"  # the first page given
    assert (out / "scan1.md").read_text().strip() == "second page text"
    assert (out / "scan3-document.md").read_text().startswith("<!-- page 1 -->\n\nfirst page text")
    data = json.loads((out / "scan3-document.json").read_text())
    assert data["inputs"] == [str(docs / "scan3.png"), str(docs / "scan1.png")]
    assert len(PdfReader(out / "scan3-document.pdf").pages) == 2  # the whole document's searchable PDF
    assert len(PdfReader(out / "scan3.pdf").pages) == 1  # ... beside each page's, as page by page


def test_pages_choose_the_document_pages(docs, unlimited, scripted):
    out = docs / "p23"
    assert ocr(docs / "doc.pdf", "--pages", "2-3", "--model", unlimited, "--out", out, "--ngram", 0) == 0
    assert scripted == [2]
    assert sorted(os.listdir(out)) == ["doc-p002-p003.md", "doc-p002.md", "doc-p003.md"]
    assert (out / "doc-p002-p003.md").read_text().startswith("<!-- page 2 -->\n\nfirst page text\n\n<!-- page 3 -->")


def test_a_document_over_the_context_is_read_in_page_ranges(docs, unlimited, scripted, capsys):
    out = docs / "split"
    # 32768 - 18 - 32168 = 582 tokens for pages: two pages (546) per prompt
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--out", out, "--max-tokens", 32768 - 600,
               "--ngram", 0) == 0
    assert scripted == [2, 1]  # each part ran, pages 1-2 then page 3
    lines = err_lines(capsys)
    notes = [x for x in lines if "do not fit one prompt" in x]
    assert notes == [(f"dsocr: {docs / 'doc.pdf'}: 3 pages do not fit one prompt of 32768 tokens with 32168 for "
                      "the output; read as 2 parts: pages 1-2, 3")]
    assert [(out / f"doc-p00{k}.md").read_text().strip() for k in (1, 2, 3)] == [
        "first page text", "second page text", "first page text"]  # page 3 opens the second prompt
    assert "(3 pages as one document in 2 parts)" in "\n".join(lines)


def test_max_tokens_beyond_the_context_is_refused(docs, unlimited, capsys):
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--max-tokens", 32768 - 100) == 2
    assert "lower --max-tokens" in capsys.readouterr().err


def test_a_done_document_is_skipped_and_a_missing_file_reruns_it(docs, unlimited, scripted, capsys):
    out = docs / "resume"
    cmd = [docs / "doc.pdf", "--model", unlimited, "--out", out, "--ngram", 0]
    assert ocr(*cmd) == 0
    capsys.readouterr()
    assert ocr(*cmd) == 0
    assert scripted == [3]  # nothing ran the second time
    lines = err_lines(capsys)
    assert lines[0] == (f"dsocr: skipped {docs / 'doc.pdf'}: its 4 output files exist ({out / 'doc.md'}, ...) "
                        "(--overwrite redoes it)")
    (out / "doc-p002.md").unlink()
    (out / "doc.md").write_text("kept\n")
    assert ocr(*cmd) == 0
    assert scripted == [3, 3]  # the whole document again
    lines = err_lines(capsys)
    assert lines[0] == (f"dsocr: {docs / 'doc.pdf'}: {out / 'doc-p002.md'} is missing; the whole document is read "
                        "again (the 3 files that exist are kept; --overwrite replaces them)")
    assert (out / "doc-p002.md").read_text().strip() == "second page text"
    assert (out / "doc.md").read_text() == "kept\n"


def test_stdout_streams_the_document_and_json_lines_carry_pages_and_plan(docs, unlimited, scripted, capsys):
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--ngram", 0) == 0
    assert capsys.readouterr().out.startswith("<!-- page 1 -->\n\nfirst page text\n\n<!-- page 2 -->")
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--ngram", 0, "--format", "json") == 0
    rows = [json.loads(x) for x in capsys.readouterr().out.splitlines()]
    assert [r.get("page") for r in rows] == [1, 2, 3, None]
    assert rows[1]["text"] == "second page text"
    assert rows[3]["document"]["page_tokens"] == [273] * 3 and rows[3]["inputs"] == [str(docs / "doc.pdf")]


def test_live_stdout_shows_the_page_marks(docs, unlimited, scripted, capsys, monkeypatch):
    monkeypatch.setattr("sys.stdout.isatty", lambda: True)
    assert ocr(docs / "doc.pdf", "--model", unlimited, "--ngram", 0) == 0
    assert capsys.readouterr().out == SCRIPT + "\n"


# ---- refusals ----------------------------------------------------------------------------------------------

def test_document_is_refused_with_a_deepseek_model(docs, v2_model, capsys):
    assert ocr(docs / "scan1.png", docs / "scan2.png", "--document", "--model", v2_model) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DeepSeek-OCR-2 (v2)" in err[0] and "Unlimited-OCR" in err[0]


def test_a_pdf_stays_page_by_page_with_a_deepseek_model(docs, v2_model, capsys):
    out = docs / "v2"
    assert ocr(docs / "doc.pdf", "--model", v2_model, "--out", out, "--max-tokens", 2) == 0
    assert sorted(os.listdir(out)) == ["doc-p001.md", "doc-p002.md", "doc-p003.md"]


def test_document_and_page_by_page_together_are_refused(docs, unlimited, capsys):
    assert ocr(docs / "scan1.png", docs / "scan2.png", "--document", "--page-by-page", "--model", unlimited) == 2
    assert "contradict" in capsys.readouterr().err


# ---- plan ----------------------------------------------------------------------------------------------------

def test_plan_shows_a_documents_budget(docs, capsys):
    assert main(["plan", str(docs / "doc.pdf"), "--version", "unlimited"]) == 0
    out = capsys.readouterr().out
    assert "page   2  273 tokens" in out
    assert "pages 819 tokens + prompt text about 5 tokens = about 824 prompt tokens" in out
    assert "about 31944 tokens left for the output; --max-tokens 8192 fits" in out


def test_plan_json_with_the_models_tokenizer_and_a_split(docs, unlimited, capsys):
    assert main(["plan", str(docs / "scan1.png"), str(docs / "scan2.png"), str(docs / "scan3.png"), "--document",
                 "--model", str(unlimited), "--max-tokens", str(32768 - 600), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["text_tokens"] == 18 and data["text_tokens_exact"] is True  # counted by the tiny tokenizer
    assert data["ranges"] == [[1, 2], [3, 3]] and data["prompt_tokens"] == 3 * 273 + 18
    assert data["inputs"] == [str(docs / f"scan{k}.png") for k in (1, 2, 3)]


def test_plan_of_a_single_page_searches_32_tiles(docs, capsys):
    tall = docs / "tall.png"
    Image.new("RGB", (1240, 3100), "white").save(tall)
    assert main(["plan", str(tall), "--version", "unlimited", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["mode"] == "gundam" and data["grid"] == [2, 5]  # 10 tiles: over v1's 9
    assert main(["plan", str(docs / "doc.pdf"), "--version", "v2", "--document"]) == 2


# ---- tiny checkpoints and conversion ------------------------------------------------------------------------

def test_tiny_checkpoint_window_and_quantized_conversion(tmp_path, docs, capsys):
    src = tmp_path / "u"
    assert main(["tiny-checkpoint", str(src), "--version", "unlimited", "--window", "8"]) == 0
    assert json.loads((src / "config.json").read_text())["language_config"]["sliding_window_size"] == 8
    assert main(["convert", "--model", str(src), "--out", str(tmp_path / "u4"), "--q-bits", "4"]) == 0
    model = engine.load(tmp_path / "u4")
    assert model.version == "unlimited" and model.checkpoint.config.quantization["bits"] == 4
    out = tmp_path / "out"
    assert ocr(docs / "doc.pdf", "--model", tmp_path / "u4", "--out", out, "--max-tokens", 4) == 0
    assert (out / "doc.md").read_text().startswith("<!-- page 1 -->")
    assert main(["tiny-checkpoint", str(tmp_path / "v"), "--window", "8"]) == 2
