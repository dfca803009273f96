"""The worker's model load: per-mille load progress, cancel during the load, the compute dtype and memory cap
options; the model settings that hold those options."""

import threading

import mlx.core as mx

from dsocr_app.worker import OcrWorker


def _load(folder, cancel=None, **options):
    worker = OcrWorker()
    seen = {"progress": [], "loaded": [], "failed": []}
    worker.loadProgress.connect(seen["progress"].append)
    worker.modelLoaded.connect(seen["loaded"].append)
    worker.modelFailed.connect(seen["failed"].append)
    worker.load_model(str(folder), cancel or threading.Event(), options)
    return seen


def test_load_reports_progress_and_takes_the_options(tiny_v1):
    seen = _load(tiny_v1, dtype="float32", memory_limit_gb=1e-3)
    assert not seen["failed"] and len(seen["loaded"]) == 1
    p = seen["progress"]
    assert p and p[-1] == 1000 and p == sorted(p) and len(set(p)) == len(p)
    model = seen["loaded"][0]
    assert model.dtype == mx.float32 and model.expert_dtype == mx.bfloat16  # the tiny cap keeps experts bf16


def test_cancel_stops_the_load(tiny_v1):
    cancel = threading.Event()
    worker = OcrWorker()
    failed = []
    worker.modelFailed.connect(failed.append)
    worker.loadProgress.connect(lambda p: cancel.set())
    worker.load_model(str(tiny_v1), cancel, {})
    assert failed == ["Loading the model was cancelled."] and worker.model is None


def test_model_settings_defaults_and_values(settings):
    assert settings.compute_dtype == "auto" and settings.memory_limit_gb == 0.0
    settings.compute_dtype = "bfloat16"
    settings.memory_limit_gb = 12.5
    assert settings.compute_dtype == "bfloat16" and settings.memory_limit_gb == 12.5
    settings.compute_dtype = "int3"
    settings.q.setValue("model/memory_limit_gb", "lots")
    assert settings.compute_dtype == "auto" and settings.memory_limit_gb == 0.0


def test_the_window_loads_with_the_model_settings_and_shows_load_progress(make_window, settings, tiny_v1, qtbot):
    settings.compute_dtype = "float32"
    settings.memory_limit_gb = 0.001  # below what float32 needs: the routed experts stay bf16
    window = make_window(settings)
    seen = []
    window.runs.loadProgress.connect(seen.append)
    window.runs.loadProgress.connect(lambda p: seen.append(("bar", window.status.progress.value(), window.status.progress.format())))
    with qtbot.waitSignal(window.modelReady, timeout=120_000):
        window.load_model(str(tiny_v1))
    values = [v for v in seen if isinstance(v, int)]
    assert values and values[-1] == 1000 and values == sorted(values)
    assert ("bar", 1000, "Loading model: 100%") in seen
    assert window.model.dtype == mx.float32 and window.model.expert_dtype == mx.bfloat16


def test_model_settings_tab_round_trip(settings, qtbot):
    from dsocr_app.settings_dialog import ModelSection, SettingsDialog

    dialog = SettingsDialog(settings)
    qtbot.addWidget(dialog)
    section = next(s for s in dialog.sections if isinstance(s, ModelSection))
    assert section.dtype.currentData() == "auto" and section.memory.value() == 0.0
    assert section.memory.text() == "Automatic (80% of the memory)"
    section.dtype.setCurrentIndex(section.dtype.findData("bfloat16"))
    section.memory.setValue(12.0)
    dialog.accept()
    assert settings.compute_dtype == "bfloat16" and settings.memory_limit_gb == 12.0
