"""The OpenAI chat endpoint with the real `openai` client, on a tiny checkpoint: the message is exactly what
`dsocr ocr --format md` prints, streaming gives the same pieces, usage counts the tokens."""

import pytest

from engine.cli.main import main as dsocr

from .conftest import data_url, png_bytes

openai = pytest.importorskip("openai")


def _client(server, **kw):
    return openai.OpenAI(base_url=server.url + "/v1", api_key=kw.pop("api_key", "unused"), max_retries=0, **kw)


def _image_message(url, text):
    parts = [{"type": "text", "text": text}] if text is not None else []
    return [{"role": "user", "content": parts + [{"type": "image_url", "image_url": {"url": url}}]}]


def _cli_text(capsys, image, *args):
    capsys.readouterr()
    assert dsocr(["ocr", str(image), *args]) == 0
    return capsys.readouterr().out


def test_models_lists_the_loaded_model(server):
    ids = [m.id for m in _client(server).models.list()]
    assert ids == ["tiny-v2"]


@pytest.mark.parametrize("text, cli_args", [
    ("free", ["--task", "free"]),
    (None, []),  # no text part: the markdown task
    ("locate: Total", ["--locate", "Total"]),
    ("Read the numbers.", ["--prompt", "Read the numbers."]),
])
def test_message_is_what_the_cli_prints(server, tiny_dir, tmp_path, capsys, text, cli_args):
    image = tmp_path / "page.png"
    image.write_bytes(png_bytes())
    reply = _client(server).chat.completions.create(
        model="tiny-v2", messages=_image_message(data_url(image.read_bytes()), text), max_tokens=24)
    expected = _cli_text(capsys, image, "--model", str(tiny_dir), "--max-tokens", "24", *cli_args)
    assert reply.choices[0].message.content == expected
    assert reply.choices[0].finish_reason in ("stop", "length")
    assert reply.usage.completion_tokens <= 24 and reply.usage.completion_tokens > 0
    assert reply.usage.prompt_tokens > 256  # the image's tokens are part of the prompt
    assert reply.usage.total_tokens == reply.usage.prompt_tokens + reply.usage.completion_tokens


def test_options_through_extra_body(server, tiny_dir, tmp_path, capsys):
    image = tmp_path / "wide.png"
    image.write_bytes(png_bytes((1600, 900)))
    reply = _client(server).chat.completions.create(
        model="tiny-v2", messages=_image_message(data_url(image.read_bytes()), "ocr"), max_tokens=12,
        extra_body={"mode": "base", "math": "dollars"})
    expected = _cli_text(capsys, image, "--model", str(tiny_dir), "--max-tokens", "12", "--task", "ocr",
                         "--mode", "base", "--math", "dollars")
    assert reply.choices[0].message.content == expected
    assert reply.model_extra["dsocr"]["grid"] == [0, 0]  # base mode does not tile


def test_streaming_chunks_and_usage(server, tmp_path):
    url = data_url(png_bytes())
    c = _client(server)
    full = c.chat.completions.create(model="tiny-v2", messages=_image_message(url, "free"), max_tokens=30)
    chunks = list(c.chat.completions.create(model="tiny-v2", messages=_image_message(url, "free"), max_tokens=30,
                                            stream=True, stream_options={"include_usage": True}))
    pieces = [ch.choices[0].delta.content for ch in chunks if ch.choices and ch.choices[0].delta.content]
    assert len(pieces) >= 2  # sent as it is decoded, not only at the end
    finals = [ch for ch in chunks if ch.choices and ch.choices[0].finish_reason]
    assert len(finals) == 1 and finals[0].choices[0].finish_reason == full.choices[0].finish_reason
    # the final chunk carries the finished text (cleaned as `dsocr ocr` prints it); greedy: the same as unstreamed
    assert finals[0].model_extra["dsocr"]["text"] == full.choices[0].message.content
    # the pieces add up to the clean text, as an OpenAI client that only joins them shows it
    assert "".join(pieces) == full.choices[0].message.content
    assert chunks[-1].usage.completion_tokens == full.usage.completion_tokens


def test_file_url_inside_an_allowed_folder(start_server, tmp_path):
    folder = tmp_path / "allowed"
    folder.mkdir()
    (folder / "p.png").write_bytes(png_bytes())
    server = start_server(allow_files=(folder,))
    reply = _client(server).chat.completions.create(
        model="tiny-v2", messages=_image_message(f"file://{folder / 'p.png'}", "free"), max_tokens=5)
    assert reply.choices[0].message.content
    outside = tmp_path / "outside.png"
    outside.write_bytes(png_bytes())
    with pytest.raises(openai.PermissionDeniedError, match="outside the folders"):
        _client(server).chat.completions.create(
            model="tiny-v2", messages=_image_message(f"file://{outside}", "free"), max_tokens=5)
    link = folder / "link.png"
    link.symlink_to(outside)  # a link may not lead out of the folder
    with pytest.raises(openai.PermissionDeniedError):
        _client(server).chat.completions.create(
            model="tiny-v2", messages=_image_message(f"file://{link}", "free"), max_tokens=5)


def test_file_urls_are_off_by_default(server, tmp_path):
    (tmp_path / "p.png").write_bytes(png_bytes())
    with pytest.raises(openai.PermissionDeniedError, match="--allow-files"):
        _client(server).chat.completions.create(
            model="tiny-v2", messages=_image_message(f"file://{tmp_path / 'p.png'}", "free"), max_tokens=5)


def test_api_key_with_the_openai_client(start_server):
    server = start_server(api_key="sekrit")
    with pytest.raises(openai.AuthenticationError):
        _client(server, api_key="wrong").models.list()
    assert [m.id for m in _client(server, api_key="sekrit").models.list()] == ["tiny-v2"]
