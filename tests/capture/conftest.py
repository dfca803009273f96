"""Capture test set-up: offscreen Qt for in-process widget tests; a real X server (Xvfb, started here) and
DSOCR processes on it for the end-to-end tests; a tiny model."""

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest  # noqa: E402

from dsocr_app import engine_bridge as eb  # noqa: E402
from dsocr_app.app import DsocrApplication  # noqa: E402

from .xsession import XSession, missing_tools  # noqa: E402


@pytest.fixture(autouse=True)
def own_instance_name(monkeypatch, request):
    """In-process servers listen on a test's own name, never on the user's running DSOCR."""
    monkeypatch.setenv("DSOCR_INSTANCE", f"dsocr-t{os.getpid()}-{abs(hash(request.node.nodeid)) % 10**8}")


@pytest.fixture(scope="session")
def qapp_cls():
    return DsocrApplication


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


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    from dsocr_app.settings import Settings

    return Settings(QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat))
