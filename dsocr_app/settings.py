"""Settings remembered across launches (QSettings): planning choices, model, window geometry, last folder.

One typed property per setting, so the rest of the app never spells a key or converts a QVariant itself.
"""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QSettings

from . import engine_bridge as eb

_RUN = eb.RUN_DEFAULTS  # the engine's run defaults: written once, in engine/options.py
ORGANIZATION = "DSOCR"
APPLICATION = "dsocr-app"


def _int(value, default: int) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return default


def choice(value, choices, default: str) -> str:
    """A stored string if it is one of `choices`, else `default` (missing, empty or stale values)."""
    value = str(value or default)
    return value if value in choices else default


def flag(value, default: bool) -> bool:
    """A stored boolean: QSettings' INI files give back 'true'/'false' strings; anything else is `default`."""
    if isinstance(value, bool):
        return value
    text = str(value).lower()
    if text in ("true", "1", "yes"):
        return True
    if text in ("false", "0", "no"):
        return False
    return default


class Settings:
    """Typed access to the app's QSettings (INI format, user scope)."""

    def __init__(self, qsettings: QSettings | None = None):
        self.q = qsettings or QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, ORGANIZATION, APPLICATION)

    def _get(self, key: str, default=None):
        return self.q.value(key, default)

    def _set(self, key: str, value) -> None:
        self.q.setValue(key, value)

    # planning
    @property
    def version(self) -> str:
        return choice(self._get("plan/version"), eb.VERSIONS, "v2")

    @version.setter
    def version(self, value: str) -> None:
        self._set("plan/version", value)

    @property
    def mode(self) -> str:
        return str(self._get("plan/mode", eb.DEFAULT_MODE))

    @mode.setter
    def mode(self, value: str) -> None:
        self._set("plan/mode", value)

    def tiles(self, version: str) -> tuple[int, int]:
        lo_d, hi_d = eb.DEFAULT_TILES[version]
        lo_r, hi_r = eb.TILE_RANGE[version]
        lo = _int(self._get(f"plan/{version}/min_tiles", lo_d), lo_d)
        hi = _int(self._get(f"plan/{version}/max_tiles", hi_d), hi_d)
        if not (lo_r <= lo <= hi <= hi_r):
            return lo_d, hi_d
        return lo, hi

    def set_tiles(self, version: str, lo: int, hi: int) -> None:
        self._set(f"plan/{version}/min_tiles", int(lo))
        self._set(f"plan/{version}/max_tiles", int(hi))

    def set_plan(self, o) -> None:
        """Remember a `PlanOptions`: version, mode, task and that version's tile limits."""
        self.version, self.mode, self.task = o.version, o.mode, o.task
        self.set_tiles(o.version, o.min_tiles, o.max_tiles)

    @property
    def task(self) -> str:
        return choice(self._get("run/task"), eb.TASKS, _RUN.task)

    @task.setter
    def task(self, value: str) -> None:
        self._set("run/task", value)

    @property
    def max_tokens(self) -> int:
        return max(1, _int(self._get("run/max_tokens", _RUN.decoding.max_tokens), _RUN.decoding.max_tokens))

    @max_tokens.setter
    def max_tokens(self, value: int) -> None:
        self._set("run/max_tokens", int(value))

    # model
    @property
    def model(self) -> str:
        return str(self._get("model/source", "") or "")

    @model.setter
    def model(self, value: str) -> None:
        self._set("model/source", value)

    @property
    def recent_models(self) -> list[str]:
        value = self._get("model/recent", [])
        if isinstance(value, str):
            value = [value]
        return [str(v) for v in (value or []) if v]

    def add_recent_model(self, source: str) -> None:
        items = [source] + [m for m in self.recent_models if m != source]
        self._set("model/recent", items[:8])

    COMPUTE_DTYPES = ("auto", "float32", "bfloat16")

    @property
    def compute_dtype(self) -> str:
        """Compute dtype the model is loaded in: "auto" (float32 on a CPU, bfloat16 on a GPU) or a dtype."""
        return choice(self._get("model/compute_dtype"), self.COMPUTE_DTYPES, "auto")

    @compute_dtype.setter
    def compute_dtype(self, value: str) -> None:
        self._set("model/compute_dtype", value if value in self.COMPUTE_DTYPES else "auto")

    @property
    def vision_float32(self) -> bool:
        """Run the vision encoder in float32 while the language model computes in bfloat16 or is quantized (the
        fix mlx-vlm's users found for Unlimited-OCR's loops)."""
        return flag(self._get("model/vision_float32"), False)

    @vision_float32.setter
    def vision_float32(self, value: bool) -> None:
        self._set("model/vision_float32", "true" if value else "false")

    @property
    def memory_limit_gb(self) -> float:
        """The memory cap (GB) a model is loaded under; 0 = automatic (80% of the RAM)."""
        try:
            return max(0.0, float(self._get("model/memory_limit_gb", 0.0) or 0.0))
        except (TypeError, ValueError):
            return 0.0

    @memory_limit_gb.setter
    def memory_limit_gb(self, value: float) -> None:
        self._set("model/memory_limit_gb", max(0.0, float(value)))

    # files
    @property
    def last_folder(self) -> str:
        return str(self._get("files/last_folder", "") or "")

    @last_folder.setter
    def last_folder(self, value: str) -> None:
        self._set("files/last_folder", value)

    @property
    def pdf_dpi(self) -> int:
        return min(600, max(72, _int(self._get("files/pdf_dpi", eb.DEFAULT_DPI), eb.DEFAULT_DPI)))

    @pdf_dpi.setter
    def pdf_dpi(self, value: int) -> None:
        self._set("files/pdf_dpi", int(value))

    # recovery from repetition loops, and the output settings (engine options of every run)
    @property
    def recover(self) -> bool:
        return flag(self._get("run/recover"), _RUN.recovery.enabled)

    @recover.setter
    def recover(self, value: bool) -> None:
        self._set("run/recover", "true" if value else "false")

    @property
    def repetition_penalty(self) -> float:
        try:
            return min(2.0, max(1.0, float(self._get("run/repetition_penalty", _RUN.recovery.repetition_penalty))))
        except (TypeError, ValueError):
            return _RUN.recovery.repetition_penalty

    @repetition_penalty.setter
    def repetition_penalty(self, value: float) -> None:
        self._set("run/repetition_penalty", float(value))

    @property
    def math(self) -> str:
        return choice(self._get("output/math"), eb.MATH_STYLES, _RUN.output.math)

    @math.setter
    def math(self, value: str) -> None:
        self._set("output/math", value)

    @property
    def tables(self) -> str:
        return choice(self._get("output/tables"), eb.TABLE_STYLES, _RUN.output.tables)

    @tables.setter
    def tables(self, value: str) -> None:
        self._set("output/tables", value)

    def load_options(self) -> dict:
        """The keyword arguments these settings give `engine.load` (the defaults are left out)."""
        out = {}
        if self.compute_dtype != "auto":
            out["dtype"] = self.compute_dtype
        if self.memory_limit_gb > 0:
            out["memory_limit_gb"] = self.memory_limit_gb
        if self.vision_float32:
            out["vision_dtype"] = "float32"
        return out

    def run_options(self, **flat) -> eb.RunOptions:
        """The engine's `RunOptions` of a run: these settings' recovery, output and token limit, with `flat`
        (`RunOptions.of`'s names: the plan options' task, mode, tiles, grid, ...) on top."""
        return eb.RunOptions.of(**{"max_tokens": self.max_tokens, "recover": self.recover,
                                   "repetition_penalty": self.repetition_penalty, "math": self.math,
                                   "tables": self.tables, **flat})

    # window
    def geometry(self, key: str) -> QByteArray | None:
        value = self._get(f"window/{key}")
        return value if isinstance(value, QByteArray) and not value.isEmpty() else None

    def set_geometry(self, key: str, value: QByteArray) -> None:
        self._set(f"window/{key}", value)

    def sync(self) -> None:
        self.q.sync()
