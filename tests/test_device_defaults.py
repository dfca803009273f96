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


@pytest.mark.parametrize("env, capability, expected", [
    ({}, (9, 0), "128"),  # H100 / H200: MLX's default is 1000 MB per graph
    ({}, (8, 0), "128"),  # A100: 400 MB
    ({}, (8, 6), None),  # consumer Ampere: MLX's default (100 MB) is already small
    ({"MLX_MAX_MB_PER_BUFFER": "1000"}, (9, 0), None),  # the user's own value is kept
    ({}, None, None),  # Metal or a CPU: left alone
])
def test_cuda_command_graphs_are_capped_where_mlx_makes_them_big(env, capability, expected):
    from engine.runtime.device import cuda_graph_mb

    assert cuda_graph_mb(env, capability) == expected


def test_engine_import_sets_the_graph_size_only_where_it_should():
    import mlx.core as mx

    from engine.runtime.device import cuda_graph_mb

    cuda = mx.default_device().type == mx.DeviceType.gpu and not mx.metal.is_available()
    info = mx.device_info() if cuda else None
    capability = (info["compute_capability_major"], info["compute_capability_minor"]) if cuda else None
    expected = cuda_graph_mb({}, capability)
    env = {k: v for k, v in os.environ.items() if k != "MLX_MAX_MB_PER_BUFFER"}
    code = "import os, engine; print(os.environ.get('MLX_MAX_MB_PER_BUFFER'))"
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == str(expected)  # "None" on this CPU and on a Mac
