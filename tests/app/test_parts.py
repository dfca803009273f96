"""Smaller parts: download progress, the model dialog, the About box, shortcuts, accessible names, dark mode."""

import threading

import engine
import pytest
from PySide6.QtGui import QColor, QKeySequence, QPalette
from PySide6.QtWidgets import QAbstractButton, QApplication, QComboBox, QLineEdit, QSpinBox

from dsocr_app.about import about_html, versions
from dsocr_app.model_dialog import ModelDialog
from dsocr_app.worker import DownloadCancelled, progress_class


def test_download_progress_reports_bytes_and_cancels():
    seen = []
    cancel = threading.Event()
    cls = progress_class(lambda *a: seen.append(a), cancel)
    bar = cls(total=6_700_000_000, unit="B", unit_scale=True, desc="Downloading bytes", mininterval=0, name="hf")
    bar.update(1_000_000_000)
    bar.refresh()
    assert seen[-1] == (1_000_000_000, 6_700_000_000, "Downloading bytes")
    cancel.set()
    with pytest.raises(DownloadCancelled):
        bar.update(1)
    bar.close()


def test_download_progress_shows_in_the_window(window):
    window.status.download_progress(1_500_000_000, 6_700_000_000, "Downloading bytes")
    assert "1.5 GB of 6.7 GB" in window.status.model_label.text()
    assert window.status.progress.maximum() == 1000 and window.status.progress.value() == int(1000 * 1.5 / 6.7)


def test_model_dialog(qtbot, tmp_path):
    d = ModelDialog("", [])
    qtbot.addWidget(d)
    assert d.hub_radio.isChecked() and d.source() == engine.DEFAULT_REPOS["v1"]
    d.hub.setCurrentText(engine.DEFAULT_REPOS["v2"])
    assert d.source() == "deepseek-ai/DeepSeek-OCR-2"
    d.folder.setText(str(tmp_path))
    d.folder.textEdited.emit(str(tmp_path))
    assert d.folder_radio.isChecked() and d.source() == str(tmp_path)
    d2 = ModelDialog(str(tmp_path), [])
    qtbot.addWidget(d2)
    assert d2.folder_radio.isChecked() and d2.source() == str(tmp_path)


def test_about_lists_versions():
    v = versions()
    assert v["engine"] == engine.__version__ and v["MLX"] and v["Qt"] and v["Python"]
    html = about_html("tiny")
    assert engine.__version__ in html and "tiny" in html and v["Qt"] in html


def test_standard_shortcuts(window):
    std = QKeySequence.StandardKey
    assert window.acts["open"].shortcut() == QKeySequence(std.Open)
    assert window.acts["paste"].shortcut() == QKeySequence(std.Paste)
    assert window.acts["copy_markdown"].shortcut() == QKeySequence(std.Copy)
    assert window.acts["save"].shortcut() == QKeySequence(std.Save)
    assert window.acts["run"].shortcut() == QKeySequence("Ctrl+R")
    assert window.acts["cancel"].shortcut() == QKeySequence("Esc")


def test_controls_have_accessible_names(window):
    missing = []
    for cls in (QComboBox, QSpinBox, QLineEdit):
        for w in window.findChildren(cls):
            if w.isVisibleTo(window) and not w.accessibleName() and not isinstance(w.parent(), (QComboBox, QSpinBox)):
                missing.append(w)
    for w in window.findChildren(QAbstractButton):
        if w.objectName().startswith("qt_"):  # Qt's own, e.g. the toolbar's overflow button
            continue
        if w.isVisibleTo(window) and not (w.accessibleName() or w.text() or w.toolTip()):
            missing.append(w)
    assert not missing, [type(w).__name__ for w in missing]
    for w in (window.view, window.queue_view, window.results.editor, window.results.table, window.results.rendered):
        assert w.accessibleName()


def test_dark_palette_is_followed(window, page):
    window.add_paths([page])
    app = QApplication.instance()
    old = app.palette()
    dark = QPalette(old)
    for role, color in ((QPalette.ColorRole.Window, "#202124"), (QPalette.ColorRole.Base, "#17181a"),
                        (QPalette.ColorRole.Text, "#e8eaed"), (QPalette.ColorRole.WindowText, "#e8eaed"),
                        (QPalette.ColorRole.Highlight, "#3d7bd9")):
        dark.setColor(role, QColor(color))
    try:
        app.setPalette(dark)
        app.processEvents()
        image = window.results.editor.viewport().grab().toImage()
        assert image.pixelColor(image.width() - 3, image.height() - 3).lightness() < 60
        corner = window.view.viewport().grab().toImage().pixelColor(1, 1)  # beside the page, in the view
        assert corner.lightness() < 60
    finally:
        app.setPalette(old)
