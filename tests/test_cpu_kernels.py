"""The CPU numpy path of the encoders' attention and activations equals MLX's path (and a float64 reference)."""

import os

import mlx.core as mx
import mlx.nn as nn
import numpy as np
import pytest
from mlx.utils import tree_flatten, tree_unflatten

from engine.runtime import blas, jit_kernels, memory, ops
from engine.runtime.kernels import activations, attention as attn, pool, products, route
from engine.vision import sam


@pytest.fixture
def mode():
    """Switch the CPU path inside a test; restore it afterwards."""
    prev = route.get_mode()
    yield route.set_mode
    route.set_mode(prev)


def _rel(a, ref):
    a, ref = np.asarray(a, np.float64), np.asarray(ref, np.float64)
    return float(np.abs(a - ref).max() / np.abs(ref).max())


def _reference(q, k, v, scale, bias=None):
    """float64 softmax(q k^T * scale + bias) v, GQA by repeating key/value heads."""
    q, k, v = (np.asarray(x.astype(mx.float32), np.float64) for x in (q, k, v))
    rep = q.shape[1] // k.shape[1]
    k, v = np.repeat(k, rep, axis=1), np.repeat(v, rep, axis=1)
    s = q @ k.swapaxes(-1, -2) * scale
    if bias is not None:
        s = s + bias
    s = np.exp(s - s.max(-1, keepdims=True))
    return (s / s.sum(-1, keepdims=True)) @ v


def _both(mode, *args, **kw):
    mode("numpy")
    a = attn.attention(*args, **kw)
    mode("mlx")
    b = attn.attention(*args, **kw)
    return np.asarray(a.astype(mx.float32)), np.asarray(b.astype(mx.float32))


def _qkv(B=2, H=4, Hk=4, Lq=37, Lk=37, D=16, Dv=16, seed=0):
    rng = np.random.default_rng(seed)
    return (mx.array(rng.standard_normal((B, H, Lq, D), dtype=np.float32)),
            mx.array(rng.standard_normal((B, Hk, Lk, D), dtype=np.float32)),
            mx.array(rng.standard_normal((B, Hk, Lk, Dv), dtype=np.float32)))


def test_plain_and_gqa(mode):
    for hk in (4, 2, 1):
        q, k, v = _qkv(Hk=hk, Lk=53, Dv=24)
        ours, theirs = _both(mode, q, k, v, 0.25)
        ref = _reference(q, k, v, 0.25)
        assert ours.shape == (2, 4, 37, 24)
        assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6


def test_masks(mode):
    rng = np.random.default_rng(1)
    q, k, v = _qkv(Lq=11, Lk=29)
    additive = mx.array(rng.standard_normal((11, 29), dtype=np.float32) * 3)  # broadcast over batch and heads
    ours, theirs = _both(mode, q, k, v, 0.5, mask=additive)
    ref = _reference(q, k, v, 0.5, np.asarray(additive))
    assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6

    keep = rng.random((2, 1, 11, 29)) > 0.3
    keep[..., 0] = True  # no empty row
    ours, theirs = _both(mode, q, k, v, 0.5, mask=mx.array(keep))
    ref = _reference(q, k, v, 0.5, np.where(keep, 0.0, -np.inf))
    assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6

    ours, theirs = _both(mode, q, k, v, 0.5, mask="causal")  # bottom-right aligned
    causal = np.arange(29)[None, :] <= np.arange(11)[:, None] + 18
    ref = _reference(q, k, v, 0.5, np.where(causal, 0.0, -np.inf))
    assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6

    finfo_min = mx.where(mx.array(causal), 0.0, mx.finfo(mx.float32).min)  # the causal-flow encoder's fill
    ours, theirs = _both(mode, q, k, v, 0.5, mask=finfo_min)
    assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6


def test_relative_position_bias(mode):
    kh, kw = 5, 7
    q, k, v = _qkv(Lq=kh * kw, Lk=kh * kw)
    rng = np.random.default_rng(2)
    rel_h = mx.array(rng.standard_normal((2, 4, kh * kw, kh), dtype=np.float32))
    rel_w = mx.array(rng.standard_normal((2, 4, kh * kw, kw), dtype=np.float32))
    ours, theirs = _both(mode, q, k, v, 0.25, rel_pos=(rel_h, rel_w))
    bias = (np.asarray(rel_h)[..., :, None] + np.asarray(rel_w)[..., None, :]).reshape(2, 4, kh * kw, kh * kw)
    ref = _reference(q, k, v, 0.25, bias)
    assert _rel(ours, ref) < 2e-6 and _rel(theirs, ref) < 2e-6
    with pytest.raises(ValueError):
        attn.attention(q, k, v, 0.25, mask="causal", rel_pos=(rel_h, rel_w))


def test_chunking_and_threads_do_not_change_results(mode, monkeypatch):
    q, k, v = _qkv(B=3, H=6, Hk=3, Lq=33, Lk=40)
    bias = mx.array(np.random.default_rng(4).standard_normal((33, 40), dtype=np.float32))
    mode("numpy")
    whole = np.asarray(attn.attention(q, k, v, 0.3, mask=bias))
    monkeypatch.setattr(attn, "CHUNK_ELEMENTS", 7 * 40)  # 7 query rows per chunk, one head
    chunked = np.asarray(attn.attention(q, k, v, 0.3, mask=bias))
    monkeypatch.setattr(pool, "THREADS", 1)
    serial = np.asarray(attn.attention(q, k, v, 0.3, mask=bias))
    # Row blocks of another height may be summed in another order by the BLAS kernel (numpy's OpenBLAS on an
    # AMD EPYC without AVX-512: a 7-row block's products differ from a 33-row block's in the last bit), so the
    # chunks agree with the whole to float32 rounding; the threads change nothing at all.
    np.testing.assert_allclose(chunked, whole, rtol=0, atol=4e-6 * np.abs(whole).max())
    np.testing.assert_array_equal(chunked, serial)


def test_causal_chunks_skip_the_keys_no_row_sees(mode, monkeypatch):
    """Under a causal mask each row block multiplies only the keys up to its last row (the blocks above the
    diagonal are never computed); the result is the masked softmax of all keys, whatever the block size, and
    the same bits whatever the number of threads."""
    q, k, v = _qkv(B=2, H=6, Hk=3, Lq=33, Lk=40)
    causal = np.arange(40)[None, :] <= np.arange(33)[:, None] + 7
    ref = _reference(q, k, v, 0.3, np.where(causal, 0.0, -np.inf))
    mode("numpy")
    widths = []
    matmul = np.matmul

    def counting(a, b, **kw):
        if "out" not in kw:  # q @ k^T (probs @ v writes into the output): the keys of the chunk
            widths.append(b.shape[-1])
        return matmul(a, b, **kw)

    monkeypatch.setattr(np, "matmul", counting)
    monkeypatch.setattr(attn, "CAUSAL_ROWS", 8)  # row blocks 0-7, 8-15, ..., 32
    blocked = np.asarray(attn.attention(q, k, v, 0.3, mask="causal"))
    assert sorted(set(widths)) == [15, 23, 31, 39, 40]  # keys <= last row + 7 of each block
    monkeypatch.setattr(np, "matmul", matmul)
    assert _rel(blocked, ref) < 2e-6
    monkeypatch.setattr(pool, "THREADS", 1)
    np.testing.assert_array_equal(np.asarray(attn.attention(q, k, v, 0.3, mask="causal")), blocked)
    monkeypatch.setattr(attn, "CAUSAL_ROWS", 1)  # one row per block: the diagonal block is a single key
    assert _rel(attn.attention(q, k, v, 0.3, mask="causal"), ref) < 2e-6
    mode("mlx")
    assert _rel(attn.attention(q, k, v, 0.3, mask="causal"), blocked) < 2e-6


def test_bfloat16_inputs(mode):
    q, k, v = (x.astype(mx.bfloat16) for x in _qkv())
    mode("numpy")
    out = attn.attention(q, k, v, 0.25)
    assert out.dtype == mx.bfloat16
    assert _rel(out.astype(mx.float32), _reference(q, k, v, 0.25)) < 1e-2


def test_activations_match_mlx(mode, monkeypatch):
    rng = np.random.default_rng(3)
    x = mx.array(rng.standard_normal((50, 77), dtype=np.float32) * 3)
    u = mx.array(rng.standard_normal((50, 77), dtype=np.float32))
    monkeypatch.setattr(activations, "MAP_CHUNK", 300)  # several row chunks
    mode("numpy")
    np.testing.assert_array_equal(np.asarray(ops.gelu_erf(x)), np.asarray(ops._gelu_erf_mlx(x)))
    assert _rel(activations.quick_gelu(x), x * mx.sigmoid(1.702 * x)) < 1e-6
    assert _rel(activations.silu_mul(x, u), nn.silu(x) * u) < 1e-6
    xb = x.astype(mx.bfloat16)
    assert ops.gelu_erf(xb).dtype == mx.bfloat16
    mode("mlx")
    assert activations.gelu_erf(x) is None and activations.quick_gelu(x) is None and activations.silu_mul(x, u) is None


@pytest.mark.parametrize("window", [0, 4])
def test_sam_attention_block_same_in_both_modes(mode, window):
    cfg = sam.SAMConfig(width=32, layers=1, heads=2, global_attn_indexes=(), downsample_channels=(8, 8),
                        window_size=window or 14, pos_grid=6)
    block = sam.Block(cfg, window)
    rng = np.random.default_rng(4)
    block.update(tree_unflatten([(k, mx.array(rng.standard_normal(v.shape, dtype=np.float32) * 0.3))
                                 for k, v in tree_flatten(block.parameters())]))
    x = mx.array(rng.standard_normal((2, 6, 6, 32), dtype=np.float32))
    mode("numpy")
    a = np.asarray(block(x))
    mode("mlx")
    b = np.asarray(block(x))
    assert _rel(a, b) < 1e-5


def test_env_switch_and_buffer_cache():
    assert route.get_mode() in route.MODES
    with pytest.raises(ValueError):
        route.set_mode("torch")
    limit = memory.raise_buffer_cache()
    assert limit == -1 or limit >= 32 << 20


def test_openblas_core_type_from_cpu_flags():
    avx512 = {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx2", "fma"}
    assert blas.openblas_core_type(avx512) == "SkylakeX"
    assert blas.openblas_core_type({"avx2", "fma", "sse4_2"}) == "Haswell"
    assert blas.openblas_core_type({"sse4_2"}) is None


@pytest.mark.parametrize("user_timeout", [None, "6"])
def test_numpy_blas_threads_sleep_when_idle(user_timeout):
    """numpy imported before the engine (as pytest, notebooks and other apps do): importing the engine
    restarts numpy's OpenBLAS threads with the short idle spin, or with the user's OPENBLAS_THREAD_TIMEOUT;
    multi-threaded products are still right afterwards."""
    import subprocess
    import sys

    if blas.numpy_openblas() is None:
        pytest.skip("numpy is not linked against its bundled OpenBLAS")
    code = ("import numpy as np\n"
            "import engine\n"
            "from engine.runtime import blas\nfrom engine.runtime.kernels import pool\n"
            "get, put = pool._numpy_blas_threads(); put(2)\n"
            "a = np.random.default_rng(0).standard_normal((700, 900)).astype(np.float32)\n"
            "err = abs(a @ a.T - (a.astype(np.float64) @ a.T.astype(np.float64))).max()\n"
            "print(blas.numpy_blas_thread_timeout(), get(), float(err) < 1e-2)\n")
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_THREAD_TIMEOUT"}
    if user_timeout:
        env["OPENBLAS_THREAD_TIMEOUT"] = user_timeout
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == [user_timeout or blas.THREAD_TIMEOUT, "2", "True"]


def test_few_row_linear_matches_mlx(mode):
    rng = np.random.default_rng(5)
    w = mx.array(rng.standard_normal((37, 24), dtype=np.float32))
    b = mx.array(rng.standard_normal((37,), dtype=np.float32))
    for shape in [(1, 1, 24), (3, 1, 24), (products.MAX_ROWS, 24)]:
        x = mx.array(rng.standard_normal(shape, dtype=np.float32))
        mode("numpy")
        y = products.linear(x, w, b)
        assert y is not None and y.shape == (*shape[:-1], 37)
        assert _rel(y, x @ w.T + b) < 1e-6
    many = mx.zeros((products.MAX_ROWS + 1, 24))
    assert products.linear(many, w) is None  # prefill-sized products stay in MLX
    wb = w.astype(mx.bfloat16)
    yb = products.linear(x, wb, b)
    if jit_kernels.available():  # read as stored, computed in float32
        assert yb is not None and _rel(yb, x @ wb.astype(mx.float32).T + b) < 1e-6
    else:
        assert yb is None
    assert products.linear(x.astype(mx.bfloat16), wb) is None  # a bfloat16 model's products stay in MLX
    mode("mlx")
    assert products.linear(x, w) is None


def test_expert_linear_matches_gather_mm(mode):
    rng = np.random.default_rng(6)
    w = mx.array(rng.standard_normal((8, 20, 16), dtype=np.float32))  # [E, out, in]
    x = mx.array(rng.standard_normal((3, 1, 1, 1, 16), dtype=np.float32))  # 3 tokens, broadcast over k
    idx = mx.array([[1, 5, 1], [7, 5, 0], [1, 1, 2]], dtype=mx.uint32)  # repeats: grouped by expert
    ref = mx.gather_mm(x, w.swapaxes(-1, -2), rhs_indices=idx.reshape(3, 1, 3))
    mode("numpy")
    y = products.expert_linear(x, w, idx.reshape(3, 1, 3))
    assert y.shape == ref.shape == (3, 1, 3, 1, 20)
    assert _rel(y, ref) < 1e-6
    xk = mx.array(rng.standard_normal((3, 1, 3, 1, 16), dtype=np.float32))  # one row per (token, expert)
    ref = mx.gather_mm(xk, w.swapaxes(-1, -2), rhs_indices=idx.reshape(3, 1, 3))
    assert _rel(products.expert_linear(xk, w, idx.reshape(3, 1, 3)), ref) < 1e-6
    mode("mlx")
    assert products.expert_linear(x, w, idx) is None


def test_decode_logits_same_in_both_modes(mode):
    """A tiny MoE language model decodes the same greedy tokens, with the same logits, on both CPU paths."""
    from engine.language.deepseek_v2 import DeepseekV2LM, LanguageConfig
    from engine.language.generate import GenerationConfig, GenerationStats, generate_tokens

    cfg = LanguageConfig(hidden_size=64, num_hidden_layers=3, num_attention_heads=4, vocab_size=97,
                         intermediate_size=96, moe_intermediate_size=32, n_routed_experts=8,
                         num_experts_per_tok=3, n_shared_experts=1, first_k_dense_replace=1)
    mx.random.seed(7)
    lm = DeepseekV2LM(cfg)
    lm.update(tree_unflatten([(k, mx.random.normal(v.shape) * 0.2) for k, v in tree_flatten(lm.parameters())]))
    prompt = mx.random.normal((9, 64))
    runs = {}
    for m in ("numpy", "mlx"):
        mode(m)
        stats = GenerationStats()
        steps = list(generate_tokens(lm, prompt, eos_id=-1, config=GenerationConfig(max_tokens=12, ngram_size=0,
                                                                                    loop_guard=False),
                                     stats=stats))
        runs[m] = [s.token for s in steps]
        step_logits = lm(lm.embed(mx.array([runs[m][:4]])))  # 4 rows: the few-row path in numpy mode
        runs[m + "_logits"] = np.asarray(step_logits)
    assert runs["numpy"] == runs["mlx"]
    assert _rel(runs["numpy_logits"], runs["mlx_logits"]) < 1e-5


def test_pooled_work_leaves_numpy_blas_threads_alone(mode, monkeypatch):
    """numpy's BLAS runs single-threaded inside the pool, and gets its thread count back afterwards (the
    decode step's matrix-vector products run on all cores)."""
    funcs = pool._numpy_blas_threads()
    if funcs is None:
        pytest.skip("numpy is not linked against its bundled OpenBLAS")
    get, put = funcs
    prev = get()
    put(2)
    try:
        seen = []
        monkeypatch.setattr(attn, "CHUNK_ELEMENTS", 37 * 37)  # several jobs -> the pool
        q, k, v = _qkv(B=2, H=4, Lq=37, Lk=37)
        mode("numpy")
        original_matmul = np.matmul

        def counting_matmul(*a, **kw):
            seen.append(get())
            return original_matmul(*a, **kw)

        monkeypatch.setattr(np, "matmul", counting_matmul)
        attn.attention(q, k, v, 0.5)
        assert seen and set(seen) == {1}  # single-threaded BLAS while the pool runs
        assert get() == 2  # restored
    finally:
        put(prev)


def test_from_numpy_copies_in_pieces_and_keeps_every_value(monkeypatch):
    """Large arrays reach MLX in `COPY_CHUNK` pieces (each copy holds the GIL only briefly), equal to one copy:
    contiguous or not, any dtype, sizes that do not divide into pieces."""
    from engine.runtime import device

    monkeypatch.setattr(device, "COPY_CHUNK", 1000)
    calls = []
    real = mx.array
    monkeypatch.setattr(device.mx, "array", lambda a, *k: calls.append(np.asarray(a).nbytes) or real(a, *k))
    rng = np.random.default_rng(3)
    pixels = rng.standard_normal((3, 3, 17, 19)).astype(np.float32)
    for a in (pixels, pixels[:, :, ::2], pixels.astype(np.float16), np.arange(7, dtype=np.int32)):
        calls.clear()
        out = device.from_numpy(a)
        assert out.shape == a.shape and out.dtype == real(a[:1]).dtype
        assert np.array_equal(np.asarray(out), a)
        assert max(calls) <= 1000 and (len(calls) > 1) == (a.nbytes > 1000)


def test_pooled_jobs_run_once_each_and_the_caller_takes_its_share():
    import threading
    import time

    executor = pool.get()
    if executor is None:
        pytest.skip("one core: no pool")
    seen, lock = [], threading.Lock()

    def run(job):
        time.sleep(0.0005)  # jobs long enough for every thread to take some
        with lock:
            seen.append((job, threading.get_ident()))

    pool.share_jobs(executor, run, list(range(200)))
    assert sorted(j for j, _ in seen) == list(range(200))
    assert threading.get_ident() in {t for _, t in seen}  # the caller worked instead of waiting

    started = []

    def failing(job):
        with lock:
            started.append(job)
        if job == 3:
            raise pool.cancel.Cancelled

    with pytest.raises(pool.cancel.Cancelled):
        pool.share_jobs(executor, failing, list(range(200)))
    assert 3 in started and len(started) < 200  # the error stops the others from taking more jobs


def test_split_qkv_gives_views_that_attention_reads_in_place(mode):
    """q, k, v of a fused projection stay views of it (no copy made by MLX), and attention on those strided
    views equals attention on contiguous copies, bit for bit, with a scale applied."""
    rng = np.random.default_rng(7)
    B, L, H, D = 2, 29, 3, 16
    qkv = mx.array(rng.standard_normal((B, L, 3 * H * D), dtype=np.float32))
    mx.eval(qkv)
    q, k, v = attn.split_qkv(qkv, H)
    mx.eval(q, k, v)
    base = np.asarray(qkv)
    for got, i in ((q, 0), (k, 1), (v, 2)):
        assert got.shape == (B, H, L, D)
        assert np.shares_memory(np.asarray(got), base)  # a view, not a gathered copy
        np.testing.assert_array_equal(np.asarray(got), base.reshape(B, L, 3, H, D)[:, :, i].transpose(0, 2, 1, 3))
    mode("numpy")
    strided = np.asarray(attn.attention(q, k, v, 0.25))
    dense = np.asarray(attn.attention(*(mx.array(np.ascontiguousarray(np.asarray(x))) for x in (q, k, v)), 0.25))
    np.testing.assert_array_equal(strided, dense)
    assert _rel(strided, _reference(q, k, v, 0.25)) < 2e-6


@pytest.mark.parametrize("compiled", [True, False], ids=["jit", "numpy"])
def test_layer_norm_matches_mlx(mode, monkeypatch, compiled):
    from engine.vision.norm import LayerNorm

    if compiled and not jit_kernels.available():
        pytest.skip("numba is not installed")
    monkeypatch.setattr(jit_kernels, "available", lambda: compiled)

    rng = np.random.default_rng(8)
    x = mx.array(rng.standard_normal((3, 7, 11, 48), dtype=np.float32) * 4 + 2)
    ln = LayerNorm(48, eps=1e-6)
    ln.update({"weight": mx.array(rng.standard_normal(48, dtype=np.float32)),
               "bias": mx.array(rng.standard_normal(48, dtype=np.float32))})
    monkeypatch.setattr(activations, "MAP_CHUNK", 500)  # several row chunks
    mode("numpy")
    ours = ln(x)
    assert activations.layer_norm(x, ln.weight, ln.bias, ln.eps) is not None
    mode("mlx")
    assert activations.layer_norm(x, ln.weight, ln.bias, ln.eps) is None
    theirs = ln(x)
    assert ours.shape == theirs.shape and _rel(ours, theirs) < 1e-6
    xd = np.asarray(x, np.float64)
    ref = (xd - xd.mean(-1, keepdims=True)) / np.sqrt(xd.var(-1, keepdims=True) + 1e-6)
    ref = ref * np.asarray(ln.weight) + np.asarray(ln.bias)
    assert _rel(ours, ref) < 1e-6
