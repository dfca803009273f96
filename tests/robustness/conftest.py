"""Fixtures of the robustness suite: the generated corpus of bad inputs, unusual images and tiny models."""

import os

import pytest

import engine

from .corpus import bad_inputs, page, unusual_images



def _permission_bits_ignored() -> bool:
    """True where chmod cannot make a file unreadable to us (root, or CAP_DAC_OVERRIDE), as in CI: the
    permission tests then simulate the denial, and their real-chmod variants are skipped."""
    import tempfile

    fd, probe = tempfile.mkstemp()
    os.close(fd)
    try:
        os.chmod(probe, 0)
        try:
            with open(probe, "rb"):
                return True
        except PermissionError:
            return False
    finally:
        os.chmod(probe, 0o600)
        os.unlink(probe)


IS_ROOT = _permission_bits_ignored()


@pytest.fixture(scope="session")
def corpus(tmp_path_factory):
    """{case: (path, words its message contains)} for every bad input (generated, never committed)."""
    return bad_inputs(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="session")
def unusual(tmp_path_factory):
    return unusual_images(tmp_path_factory.mktemp("unusual"))


@pytest.fixture(scope="session")
def good_png(tmp_path_factory):
    path = tmp_path_factory.mktemp("good") / "good.png"
    page(420, 560).save(path)
    return path


@pytest.fixture(scope="session")
def tiny_v1_dir(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v1", "v1", seed=2)


@pytest.fixture(scope="session")
def tiny_v1(tiny_v1_dir):
    return engine.load(tiny_v1_dir)


@pytest.fixture(scope="session")
def tiny_v2(tmp_path_factory):
    return engine.load(engine.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v2", "v2", seed=3))
