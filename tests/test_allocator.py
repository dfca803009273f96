"""glibc's malloc as `engine` sets it on import (`runtime.allocator`): memory freed by one step is reused by the
next step's buffers of other sizes, also in a worker thread (where the app runs the model), instead of being
returned to the OS and faulted in again."""

import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc (Linux only)")

# In a fresh interpreter, like the app's: import engine, then in a worker thread evaluate MLX buffers of three
# sizes one after the other (MLX's own buffer cache off, as for sizes it cannot reuse), counting minor page faults.
CODE = """
import json, resource, threading
import engine
import mlx.core as mx
from engine.runtime import allocator
mx.set_cache_limit(0)
faults = []
def steps():
    for mb in (96, 80, 64):
        before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
        a = mx.full((mb << 18,), 1.5)
        mx.eval(a)
        assert a[-1].item() == 1.5
        del a
        faults.append(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
t = threading.Thread(target=steps)
t.start()
t.join()
print(json.dumps({"faults": faults, "malloc": allocator.describe()}))
"""


def _run(setting: str | None) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "DSOCR_MALLOC"}
    if setting:
        env["DSOCR_MALLOC"] = setting
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_a_worker_threads_freed_buffers_are_reused_without_page_faults():
    kept = _run(None)
    assert kept["malloc"] == "one heap, freed memory kept"
    first, *later = kept["faults"]
    assert first > 96 * 256 / 2  # the first 96 MB is new memory: one fault per 4 KB page (or fewer, bigger ones)
    assert all(f < 1000 for f in later), kept  # 80 and 64 MB come out of the freed 96 MB


def test_glibc_defaults_fault_in_every_step_and_can_be_kept():
    system = _run("system")
    assert system["malloc"] == "glibc defaults"
    assert all(f > mb * 256 / 2 for f, mb in zip(system["faults"], (96, 80, 64))), system
