"""Prompts: the named tasks, and prompt ids built exactly as the official `infer` builds them.

ids = [BOS] + enc(text before <image>) + [<image>] * N + enc(text after), with the text stripped first
(the "plain" conversation template) and no EOS. N comes from the tiling plan.
"""

from __future__ import annotations

IMAGE_TAG = "<image>"

TASKS = {
    "markdown": "<|grounding|>Convert the document to markdown.",
    "ocr": "<|grounding|>OCR this image.",
    "free": "Free OCR.",
    "figure": "Parse the figure.",
    "describe": "Describe this image in detail.",
}
DEFAULT_TASK = "markdown"
# Unlimited-OCR's own prompts (its official `infer` / `infer_multi`): the markdown task of one page, and a whole
# document's; its output marks each page with the plain text PAGE_MARK
UNLIMITED_PAGE_PROMPT = "<image>document parsing."
DOCUMENT_PROMPT = "<image>Multi page parsing."
PAGE_MARK = "<PAGE>"


def task_prompt(task: str | None = None, prompt: str | None = None, locate: str | None = None,
                version: str | None = None) -> str:
    """The full prompt text (with `<image>`) for a named task, a `locate` query or a custom prompt; the
    markdown task of an Unlimited-OCR model (`version` "unlimited") is its own prompt."""
    if not prompt and version == "unlimited" and (task or DEFAULT_TASK) == DEFAULT_TASK and locate is None:
        return UNLIMITED_PAGE_PROMPT
    if prompt:
        text = prompt if IMAGE_TAG in prompt else f"{IMAGE_TAG}\n{prompt}"
    elif task == "locate" or locate is not None:
        if not locate:
            raise ValueError("the locate task needs the text to find, e.g. --task locate --locate 'Total'")
        text = f"{IMAGE_TAG}\nLocate <|ref|>{locate}<|/ref|> in the image."
    else:
        task = task or DEFAULT_TASK
        if task not in TASKS:
            raise ValueError(f"unknown task {task!r}: choose one of {', '.join([*TASKS, 'locate'])} or give a prompt")
        text = f"{IMAGE_TAG}\n{TASKS[task]}"
    if text.count(IMAGE_TAG) != 1:
        raise ValueError("a prompt must contain exactly one <image> tag")
    return text


def prompt_ids(tokenizer, prompt: str, n_image_tokens: int) -> list[int]:
    """Official prompt ids for one image (or a document: N is all its pages' slots, which follow each other):
    BOS, text before, N image slots, text after (no EOS)."""
    text = prompt.strip()
    if text.count(IMAGE_TAG) != 1:
        raise ValueError("a prompt must contain exactly one <image> tag")
    before, after = text.split(IMAGE_TAG)
    return [tokenizer.bos_id, *tokenizer.encode(before), *[tokenizer.image_id] * n_image_tokens, *tokenizer.encode(after)]
