"""What one OCR run is asked to do: `RunOptions`, the one place the engine's run defaults are written.

A run's options are a frozen `RunOptions`: the task (or a custom prompt, or the text to locate) and four
parts, each a frozen dataclass of its own: `Tiling` (mode, tile limits, a forced grid), `Decoding` (max
tokens, sampling, the no-repeat n-gram ban), `Recovery` (rolling a repetition loop back) and `Output` (the
shape of `Result.text`). `engine.stream`, `stream_batch` and `ocr` take one; the command line, the app's
settings and any server build one and nothing else, so a default or an error message lives here only.

Values are checked when an options object is made (`__post_init__`): a bad value raises a ValueError whose
message the command line and the app show as it is. What depends on the model (a mode or tile limit of the
other version) is checked when the model is known (`preprocess.plan`).

    opts = RunOptions(task="free", decoding=Decoding(max_tokens=200))
    opts = RunOptions.of(task="free", max_tokens=200, math="dollars")   # flat names, as the CLI spells them
    opts.replace(temperature=0.2)                                       # a copy with one value changed
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field

from .language.prompt import DOCUMENT_PROMPT, task_prompt
from .language.recovery import DEFAULT_PENALTY, ladder
from .outputs.markdown import check_styles


def _at_least(name: str, value, low) -> None:
    if value is not None and not value >= low:
        raise ValueError(f"{name} must be at least {low} (got {value})")


@dataclass(frozen=True)
class Tiling:
    """How a page is cut into tiles: `mode` (None: the version's default), `min_tiles` / `max_tiles` (None: the
    mode's defaults), `grid` (cols, rows): one forced grid instead of the official choice (marked in the plan).
    Their limits depend on the model's version: `preprocess.plan` checks them once the model is known."""

    mode: str | None = None
    min_tiles: int | None = None
    max_tiles: int | None = None
    grid: tuple[int, int] | None = None

    def __post_init__(self):
        if self.grid is not None:  # the plan checks the values (and the tile limits, which depend on the model)
            object.__setattr__(self, "grid", tuple(self.grid))


@dataclass(frozen=True)
class Decoding:
    """How tokens are chosen: at most `max_tokens` kept; `temperature` 0 is greedy, above it samples within
    `top_p`; the vLLM-style no-repeat n-gram ban of `ngram_size` tokens (0 turns it off) over the last
    `ngram_window` tokens."""

    max_tokens: int = 8192
    temperature: float = 0.0
    top_p: float = 1.0
    ngram_size: int = 30
    ngram_window: int = 90

    def __post_init__(self):
        _at_least("max_tokens", self.max_tokens, 1)
        _at_least("temperature", self.temperature, 0.0)
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1] (got {self.top_p})")
        _at_least("ngram_size", self.ngram_size, 0)
        _at_least("ngram_window", self.ngram_window, 0)


@dataclass(frozen=True)
class Recovery:
    """Roll a repetition loop back and retry it with a stronger guard (`enabled`; `language/recovery.py`);
    `repetition_penalty` (>= 1.0) is the penalty of its first retry."""

    enabled: bool = True
    repetition_penalty: float = DEFAULT_PENALTY

    def __post_init__(self):
        ladder(self.repetition_penalty)  # its message: the one place the penalty's rule is written


@dataclass(frozen=True)
class Output:
    """The shape of `Result.text`: `math` ("brackets": \\( \\) and \\[ \\] as the model writes them, or
    "dollars") and `tables` ("html" as written, or "pipe": markdown pipe tables where they have no merged
    cells)."""

    math: str = "brackets"
    tables: str = "html"

    def __post_init__(self):
        check_styles(self.math, self.tables)


# flat option name -> (part, field in it): the names the command line and `RunOptions.of` use
_FLAT = {
    "mode": ("tiling", "mode"), "min_tiles": ("tiling", "min_tiles"), "max_tiles": ("tiling", "max_tiles"),
    "grid": ("tiling", "grid"),
    "max_tokens": ("decoding", "max_tokens"), "temperature": ("decoding", "temperature"),
    "top_p": ("decoding", "top_p"), "ngram_size": ("decoding", "ngram_size"),
    "ngram_window": ("decoding", "ngram_window"),
    "recover": ("recovery", "enabled"), "repetition_penalty": ("recovery", "repetition_penalty"),
    "math": ("output", "math"), "tables": ("output", "tables"),
}


@dataclass(frozen=True)
class RunOptions:
    """Everything one OCR run is asked: `task` (a name of `TASKS`, or "locate" with `locate` the text to find)
    or a custom `prompt` (wins over the task), and the `tiling`, `decoding`, `recovery` and `output` parts.
    `max_batch_tiles` bounds the tiles encoded in one graph (encode memory; None: all at once)."""

    task: str | None = "markdown"
    prompt: str | None = None
    locate: str | None = None
    tiling: Tiling = field(default_factory=Tiling)
    decoding: Decoding = field(default_factory=Decoding)
    recovery: Recovery = field(default_factory=Recovery)
    output: Output = field(default_factory=Output)
    max_batch_tiles: int | None = None

    def __post_init__(self):
        self.prompt_text()  # an unknown task, a locate without its text or a bad prompt fail here
        _at_least("max_batch_tiles", self.max_batch_tiles, 1)

    def prompt_text(self, version: str | None = None) -> str:
        """The full prompt (with its `<image>` tag) these options ask of a model of `version` (Unlimited-OCR's
        markdown task has its own prompt)."""
        return task_prompt(self.task, self.prompt, self.locate, version)

    def document_prompt_text(self) -> str:
        """The prompt of a whole document read in one pass: a custom `prompt`, else Unlimited-OCR's own."""
        return task_prompt(prompt=self.prompt) if self.prompt else DOCUMENT_PROMPT

    @classmethod
    def of(cls, **flat) -> "RunOptions":
        """Options from flat names (`max_tokens=`, `math=`, `recover=`, ... as in `replace`), the rest default."""
        return cls().replace(**flat)

    def replace(self, **changes) -> "RunOptions":
        """A copy with `changes`: own fields (`task`, `tiling=Tiling(...)`, ...) or the flat names of the parts'
        fields (`mode`, `min_tiles`, `max_tiles`, `grid`, `max_tokens`, `temperature`, `top_p`, `ngram_size`,
        `ngram_window`, `recover`, `repetition_penalty`, `math`, `tables`). Raises TypeError for an unknown
        name, ValueError for a bad value."""
        own = {f.name for f in dataclasses.fields(self)}
        direct = {k: v for k, v in changes.items() if k in own}
        parts: dict[str, dict] = {}
        for name, value in changes.items():
            if name in own:
                continue
            if name not in _FLAT:
                raise TypeError(f"unknown run option {name!r}: use one of {', '.join(sorted(own | set(_FLAT)))}")
            part, key = _FLAT[name]
            parts.setdefault(part, {})[key] = value
        for part, values in parts.items():
            direct[part] = dataclasses.replace(direct.get(part, getattr(self, part)), **values)
        return dataclasses.replace(self, **direct)

    def flat(self) -> dict:
        """The options under their flat names (those of `replace`), with task, prompt, locate, max_batch_tiles."""
        out = {"task": self.task, "prompt": self.prompt, "locate": self.locate, "max_batch_tiles": self.max_batch_tiles}
        for name, (part, key) in _FLAT.items():
            out[name] = getattr(getattr(self, part), key)
        return out


DEFAULTS = RunOptions()  # read by the command line's help and the app's settings
