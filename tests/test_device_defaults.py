"""Device defaults that must hold on a user's GPU: float32 matrix products stay full float32 (MLX's default on
CUDA GPUs and M5-class Macs is TF32, which the parity tests showed 5-8e-4 off the reference on an H200)."""

import os
import subprocess
import sys

import pytest

CODE = "import os, engine; print(os.environ.get('MLX_ENABLE_TF32'))"


@pytest.mark.parametrize("users, expected", [(None, "0"), ("1", "1"), ("0", "0")])
def test_engine_keeps_float32_exact_unless_the_user_says_otherwise(users, expected):
    env = {k: v for k, v in os.environ.items() if k != "MLX_ENABLE_TF32"}
    if users is not None:
        env["MLX_ENABLE_TF32"] = users
    out = subprocess.run([sys.executable, "-c", CODE], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == expected
