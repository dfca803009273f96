"""The checkpoint's tokenizer.json (via the `tokenizers` library), with special-token ids looked up by name.

Ids are never constants: BOS, EOS, `<image>`, the grounding and table tokens all come from the file.
`StreamDecoder` turns ids into text deltas as they arrive, holding back bytes of a character split across
tokens, so streamed text always equals the text decoded at once.
"""

from __future__ import annotations

import json
from pathlib import Path

from tokenizers import Tokenizer as _HFTokenizer

from .errors import CheckpointError

BOS = "<｜begin▁of▁sentence｜>"
EOS = "<｜end▁of▁sentence｜>"
PAD = "<｜▁pad▁｜>"
IMAGE = "<image>"
SPECIAL_NAMES = {
    "image": IMAGE, "ref": "<|ref|>", "ref_end": "<|/ref|>", "det": "<|det|>", "det_end": "<|/det|>",
    "grounding": "<|grounding|>", "td": "<td>", "td_end": "</td>", "tr": "<tr>", "tr_end": "</tr>",
    "user": "<|User|>", "assistant": "<|Assistant|>",
}


class Tokenizer:
    """Byte-level BPE tokenizer of a DeepSeek-OCR checkpoint."""

    def __init__(self, folder: str | Path):
        folder = Path(folder)
        path = folder / "tokenizer.json"
        if not path.exists():
            raise CheckpointError(f"{folder}: tokenizer.json is missing; re-download the model")
        try:
            self._tok = _HFTokenizer.from_file(str(path))
        except Exception as e:  # noqa: BLE001 - the tokenizers library raises plain Exceptions
            raise CheckpointError(f"{path}: cannot read the tokenizer ({e}); re-download the model") from None
        names = {"bos": BOS, "eos": EOS, "pad": PAD}
        cfg_path = folder / "tokenizer_config.json"
        if cfg_path.exists():
            try:
                cfg = json.loads(cfg_path.read_text(encoding="utf-8"))
            except (OSError, json.JSONDecodeError):
                cfg = {}
            for key in ("bos", "eos", "pad"):
                tok = cfg.get(f"{key}_token")
                tok = tok.get("content") if isinstance(tok, dict) else tok
                if isinstance(tok, str):
                    names[key] = tok
        self.bos_id = self._require(names["bos"], path)
        self.eos_id = self._require(names["eos"], path)
        self.pad_id = self._tok.token_to_id(names["pad"])
        self.special = {key: self._tok.token_to_id(tok) for key, tok in SPECIAL_NAMES.items()}
        self.image_id = self._require(IMAGE, path)
        self.special_ids = frozenset(i for i in (*self.special.values(), self.bos_id, self.eos_id, self.pad_id)
                                     if i is not None)

    def _require(self, token: str, path: Path) -> int:
        i = self._tok.token_to_id(token)
        if i is None:
            raise CheckpointError(f"{path}: the tokenizer has no {token!r} token; is this a DeepSeek-OCR tokenizer?")
        return i

    @property
    def vocab_size(self) -> int:
        return self._tok.get_vocab_size(with_added_tokens=True)

    def token_id(self, token: str) -> int | None:
        return self._tok.token_to_id(token)

    def encode(self, text: str) -> list[int]:
        """Ids of `text` without BOS/EOS (the official `encode(s, add_special_tokens=False)`)."""
        return self._tok.encode(text, add_special_tokens=False).ids

    def decode(self, ids, skip_special: bool = False) -> str:
        return self._tok.decode(list(ids), skip_special_tokens=skip_special)

    def stream(self, skip_special: bool = False) -> "StreamDecoder":
        return StreamDecoder(self, skip_special)


class StreamDecoder:
    """Incremental detokenizer: `push(id)` returns the new complete text (never half a character).

    Decodes only the last few ids each step (vLLM's prefix/read offsets), so a long run stays O(1) per token."""

    def __init__(self, tokenizer: Tokenizer, skip_special: bool = False):
        self.tokenizer = tokenizer
        self.skip_special = skip_special
        self.ids: list[int] = []
        self.text = ""
        self._prefix = 0  # ids before this are settled
        self._read = 0  # ids before this have been emitted

    def _decode(self, lo: int, hi: int | None = None) -> str:
        return self.tokenizer.decode(self.ids[lo:hi], self.skip_special)

    def push(self, token_id: int) -> str:
        self.ids.append(int(token_id))
        prefix_text = self._decode(self._prefix, self._read)
        new_text = self._decode(self._prefix)
        if len(new_text) > len(prefix_text) and not new_text.endswith("\ufffd"):
            delta = new_text[len(prefix_text):]
            self._prefix, self._read = self._read, len(self.ids)
            self.text += delta
            return delta
        return ""

    def flush(self) -> str:
        """Whatever is still held back at the end (an incomplete character decodes as U+FFFD, as decode does)."""
        prefix_text = self._decode(self._prefix, self._read)
        delta = self._decode(self._prefix)[len(prefix_text):]
        self._prefix = self._read = len(self.ids)
        self.text += delta
        return delta
