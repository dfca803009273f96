"""Capture test set-up (beside the app's, tests/app/conftest.py): each test's own instance name; a real X
server (Xvfb, started here) with DSOCR processes on it for the end-to-end tests; a tiny v2 model."""

import os

import pytest

from dsocr_app import engine_bridge as eb

from .xsession import XSession, missing_tools


@pytest.fixture(autouse=True)
def own_instance_name(monkeypatch, request):
    """In-process servers listen on a test's own name, never on the user's running DSOCR."""
    monkeypatch.setenv("DSOCR_INSTANCE", f"dsocr-t{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}")


@pytest.fixture(scope="session")
def tiny_v2(tmp_path_factory):
    return eb.write_tiny_checkpoint(tmp_path_factory.mktemp("tiny") / "tiny-v2", version="v2")


@pytest.fixture
def xserver(tmp_path):
    """A fresh X session (Xvfb started here). Skips, saying why, when Xvfb or xclip is not installed or Qt
    cannot start on X11 (.ci/run installs what is needed)."""
    missing = missing_tools()
    if missing:
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install xvfb xclip)")
    session = XSession(tmp_path / "config")
    try:
        if not _QT_X11:
            _QT_X11.append(session.qt_problem())
        if _QT_X11[0]:
            pytest.skip(f"Qt cannot start on X11 here ({_QT_X11[0]}); .ci/run lists the packages it needs")
        yield session
    finally:
        session.close()


_QT_X11: list[str] = []  # asked once per test run
