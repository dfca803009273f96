"""Test seam for the X11 clipboard tests: a DSOCR process started with this folder on PYTHONPATH and
`DSOCR_TEST_TEXT` set writes that text as every run's result (a tiny random model writes no paragraphs, and the
clipboard modes are about paragraphs). Everything else - the run, the settings, the X11 clipboard - is real."""

import os

if os.environ.get("DSOCR_TEST_TEXT"):
    import dataclasses

    from engine import pipeline

    _result = pipeline.PageJob.result

    def _fixed(self):
        return dataclasses.replace(_result(self), text=os.environ["DSOCR_TEST_TEXT"])

    pipeline.PageJob.result = _fixed
