"""The compiled (numba) bfloat16 kernels: exact widening, float32 products of the widened weights, and the
routed experts' products through them and without them giving the same numbers."""

import mlx.core as mx
import numpy as np
import pytest

from engine.runtime import jit_kernels
from engine.runtime.kernels import activations, products

pytestmark = pytest.mark.skipif(not jit_kernels.available(), reason="numba is not installed")


def bf16(shape, seed=0, scale=1.0):
    """(bits uint16, the same values as float32) of a random bfloat16 matrix, with zeros, subnormals and infs
    among its values."""
    rng = np.random.default_rng(seed)
    w = mx.array(rng.standard_normal(shape, np.float32) * scale).astype(mx.bfloat16)
    bits = np.array(w.view(mx.uint16))
    bits.reshape(-1)[:4] = [0x0000, 0x8000, 0x0001, 0x807F]  # +0, -0, two subnormals
    return bits, (bits.astype(np.uint32) << 16).view(np.float32)


def test_widen_is_exact_in_one_pass():
    bits, wide = bf16((37, 70))
    bits.reshape(-1)[4:6] = [0x7F80, 0xFF80]  # +inf, -inf
    wide = (bits.astype(np.uint32) << 16).view(np.float32)
    out = np.empty(bits.shape, np.uint32)
    got = jit_kernels.widen(bits, out)
    assert got.dtype == np.float32 and np.array_equal(got.view(np.uint32), wide.view(np.uint32))
    assert np.array_equal(np.asarray(mx.array(bits).view(mx.bfloat16).astype(mx.float32)), got)  # as MLX widens


@pytest.mark.parametrize("rows", [1, 2, 3, jit_kernels.FUSED_ROWS])
def test_rows_product_is_the_float32_product_of_the_widened_matrix(rows):
    bits, wide = bf16((300, 1000), seed=rows)
    x = np.random.default_rng(9).standard_normal((rows, 1000)).astype(np.float32)
    got = jit_kernels.rows_product(bits, x)
    want = wide.astype(np.float64) @ x.T.astype(np.float64)
    assert got.shape == (300, rows) and got.dtype == np.float32
    assert np.abs(got - want).max() <= 2e-6 * np.abs(want).max()
    assert np.array_equal(got, jit_kernels.rows_product(bits, x))  # deterministic
    # a strided view of x (a column slice) gives the same numbers as its contiguous copy
    wider = np.concatenate([x, x], axis=1)[:, :1000]
    assert np.array_equal(jit_kernels.rows_product(bits, wider), got)


@pytest.mark.parametrize("rows", [1, 5, jit_kernels.FUSED_ROWS + 1, 80])
def test_bf16_expert_products_agree_with_and_without_the_compiled_kernels(rows, monkeypatch):
    """Both sides of `FUSED_ROWS` (fused rows, widen + BLAS) against the numpy widening."""
    bits, wide = bf16((3, 96, 130), seed=rows)
    x = np.random.default_rng(rows).standard_normal((rows, 130)).astype(np.float32)
    with_jit = [products._expert_product(x, bits[e], True) for e in range(3)]
    monkeypatch.setattr(jit_kernels, "available", lambda: False)
    without = [products._expert_product(x, bits[e], True) for e in range(3)]
    for e in range(3):
        want = x.astype(np.float64) @ wide[e].T.astype(np.float64)
        assert with_jit[e].shape == without[e].shape == (rows, 96)
        assert np.abs(with_jit[e] - want).max() <= 2e-6 * np.abs(want).max()
        assert np.abs(with_jit[e] - without[e]).max() <= 4e-6 * np.abs(want).max()


def test_switched_off_by_the_environment(monkeypatch):
    monkeypatch.setenv("DSOCR_JIT", "0")
    jit_kernels._kernels.cache_clear()
    try:
        assert not jit_kernels.available()
    finally:
        monkeypatch.delenv("DSOCR_JIT")
        jit_kernels._kernels.cache_clear()
    assert jit_kernels.available()


@pytest.mark.parametrize("pooled", [False, True])
def test_few_row_linear_of_a_bf16_weight_on_the_calling_thread_and_on_the_pool(pooled, monkeypatch):
    """`products.linear` with a bfloat16 weight: the float32 product of the widened weight, whether the
    matrix is small (the calling thread) or big enough for the pool (its row blocks, `BF16_POOL_BYTES`)."""
    if pooled:
        monkeypatch.setattr(products, "BF16_POOL_BYTES", 0)
    bits, wide = bf16((203, 72), seed=3)
    w = mx.array(bits).view(mx.bfloat16)
    for rows in (1, 3, products.MAX_ROWS):
        x = np.random.default_rng(rows).standard_normal((rows, 72)).astype(np.float32)
        got = products.linear(mx.array(x[None]), w)
        want = x.astype(np.float64) @ wide.T.astype(np.float64)
        assert got is not None and got.shape == (1, rows, 203) and got.dtype == mx.float32
        assert np.abs(np.asarray(got)[0] - want).max() <= 2e-6 * np.abs(want).max()


@pytest.mark.parametrize("pooled", [False, True])
def test_few_row_products_of_several_bf16_weights_in_one_dispatch(pooled, monkeypatch):
    """`products.linears` (a decode step's q, k, v): each weight's product and bias, whether the matrices run
    on the calling thread or as row blocks of all of them on the pool (blocks that straddle no two matrices)."""
    if pooled:
        monkeypatch.setattr(products, "BF16_POOL_BYTES", 0)
    shapes = [(203, 72), (40, 72), (7, 72)]
    mats = [bf16(shape, seed=10 + i) for i, shape in enumerate(shapes)]
    weights = [mx.array(bits).view(mx.bfloat16) for bits, _ in mats]
    biases = [None, mx.array(np.arange(40, dtype=np.float32)), None]
    x = np.random.default_rng(9).standard_normal((1, 2, 72)).astype(np.float32)
    got = products.linears(mx.array(x), weights, biases)
    assert got is not None and [y.shape for y in got] == [(1, 2, 203), (1, 2, 40), (1, 2, 7)]
    for y, (_, wide), b in zip(got, mats, biases):
        want = x.astype(np.float64) @ wide.T.astype(np.float64) + (0 if b is None else np.asarray(b))
        assert np.abs(np.asarray(y) - want).max() <= 2e-6 * np.abs(want).max()
    assert products.linears(mx.array(x), [weights[0], weights[1].astype(mx.float32)]) is None  # mixed dtypes


def test_bf16_bits_read_the_buffer_in_place_or_through_mlx_when_strided():
    w = mx.array(np.random.default_rng(2).standard_normal((6, 10), np.float32)).astype(mx.bfloat16)
    mx.eval(w)
    want = (np.asarray(w.astype(mx.float32)).view(np.uint32) >> 16).astype(np.uint16)
    bits = products._bf16_bits(w)
    assert bits.dtype == np.uint16 and np.array_equal(bits, want)
    assert np.shares_memory(bits, products._bf16_bits(w))  # a view of the array's own memory, no copy
    assert np.array_equal(products._bf16_bits(w.T), want.T)  # not row-contiguous: through MLX's view


def test_gelu_is_the_numpy_kernels_bits_in_one_pass(monkeypatch):
    x = np.random.default_rng(4).standard_normal((300, 77)).astype(np.float32) * 4
    x[0, :8] = [0.0, -0.0, 5.7, -5.7, 1e-30, -1e-30, 80.0, -80.0]  # both clips, signed zeros, tiny values
    want = np.empty_like(x)
    activations._gelu_erf_np(x, out=want)
    got = np.empty_like(x)
    jit_kernels.gelu_erf(x, got)
    assert np.array_equal(got.view(np.uint32), want.view(np.uint32))
    through_mlx = activations.gelu_erf(mx.array(x))  # the pooled row chunks, the compiled kernel in each
    monkeypatch.setattr(jit_kernels, "available", lambda: False)
    assert np.array_equal(np.asarray(through_mlx), np.asarray(activations.gelu_erf(mx.array(x))))
    assert np.array_equal(np.asarray(through_mlx), want)


def test_a_numba_that_cannot_compile_leaves_the_numpy_kernels_with_one_warning(monkeypatch, capsys):
    def broken(numba):
        raise RuntimeError("no target for this CPU")

    monkeypatch.setattr(jit_kernels, "_compile", broken)
    jit_kernels._kernels.cache_clear()
    try:
        assert not jit_kernels.available() and not jit_kernels.available()
        err = capsys.readouterr().err
        assert err.count("could not compile the CPU kernels (RuntimeError: no target for this CPU)") == 1
    finally:
        monkeypatch.undo()
        jit_kernels._kernels.cache_clear()
    assert jit_kernels.available()
