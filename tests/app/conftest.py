"""App test set-up: offscreen Qt, the app's QApplication class, throwaway settings, a generated page, tiny models."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import engine  # noqa: E402
import pytest  # noqa: E402
from PySide6.QtCore import QSettings  # noqa: E402

from dsocr_app import engine_bridge as eb  # noqa: E402
from dsocr_app.app import DsocrApplication, release_clipboard  # noqa: E402
from dsocr_app.sample import document_page  # noqa: E402
from dsocr_app.settings import Settings  # noqa: E402


@pytest.fixture(scope="session")
def qapp_cls():
    return DsocrApplication


@pytest.fixture(scope="session", autouse=True)
def _quit_like_the_app(qapp):
    """At the end, what the app does when it quits: no Python-made clipboard data survives the interpreter."""
    yield
    release_clipboard()


@pytest.fixture(autouse=True)
def own_data_folder(monkeypatch, tmp_path):
    """The capture history (the app's data folder) of each test is its own, never the user's."""
    monkeypatch.setenv("DSOCR_DATA_DIR", str(tmp_path / "data"))


@pytest.fixture
def settings(tmp_path):
    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))


@pytest.fixture
def make_window(qtbot, settings):
    from dsocr_app.window import MainWindow

    def make(s=None):
        w = MainWindow(s or settings)
        w.quiet = True
        qtbot.addWidget(w)
        w.resize(1280, 860)
        w.show()
        qtbot.waitExposed(w)
        return w

    return make


@pytest.fixture
def window(make_window):
    return make_window()


@pytest.fixture(scope="session")
def page(tmp_path_factory):
    """A generated A4-like document page (1240 x 1754) saved as PNG."""
    path = tmp_path_factory.mktemp("pages") / "page.png"
    document_page().save(path)
    return path


@pytest.fixture(scope="session")
def tiny_v1(tmp_path_factory):
    return eb.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v1", version="v1")


GROUNDED_RAW = (
    "<|ref|>title<|/ref|><|det|>[[72, 57, 565, 97]]<|/det|>\n# Quarterly Report\n\n"
    "<|ref|>text<|/ref|><|det|>[[72, 154, 726, 251]]<|/det|>\nOr reads with private local report and layout.\n\n"
    "<|ref|>image<|/ref|><|det|>[[72, 570, 927, 752]]<|/det|>\n\n"
)


def make_result(image, plan, raw=GROUNDED_RAW, stop_reason="eos"):
    """A real engine.Result for `raw` output on `image`, without running a model."""
    text, figures = engine.clean_markdown(raw, image_size=image.size)
    return engine.Result(text=text.strip(), raw_text=raw, plan=plan, regions=engine.parse_grounding(raw, image.size),
                         prompt="<image>\n<|grounding|>Convert the document to markdown.", prompt_tokens=950,
                         generated_tokens=42, encode_s=0.5, prefill_s=0.25, decode_tokens_per_s=12.5, elapsed_s=4.0,
                         peak_memory_mb=512.0, stop_reason=stop_reason, model="fake", figures=figures, image=image)


def grounded_result(image, plan, stop_reason="eos"):
    """A result with three grounded regions (title, text, figure), boxes in `image` pixels."""
    return make_result(image, plan, GROUNDED_RAW, stop_reason)
