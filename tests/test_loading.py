"""Loading under a memory budget: no second copy of the checkpoint is kept, load progress is reported, and
weights kept in bfloat16 (the language model's matrices with the compiled kernels; the routed experts under a
memory cap too small for float32 without them) compute what float32 ones do."""

import mlx.core as mx
import numpy as np
import pytest
from mlx.utils import tree_flatten
from PIL import Image, ImageDraw

import engine
from engine.runtime import jit_kernels, memory
from engine.runtime.kernels import products, route


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return engine.write_tiny_checkpoint(tmp_path_factory.mktemp("m") / "v2", "v2", seed=5)


def page():
    img = Image.new("RGB", (900, 700), "white")
    d = ImageDraw.Draw(img)
    for i in range(10):
        d.text((20, 20 + 60 * i), f"Row {i}: total 4{i}.50 EUR", fill="black")
    return img


@pytest.fixture
def no_jit(monkeypatch):
    """As without numba: the numpy kernels, and float32 experts wherever they fit."""
    monkeypatch.setattr(jit_kernels, "available", lambda: False)


def test_load_keeps_no_stored_copy_and_reports_progress(folder, no_jit):
    calls = []
    model = engine.load(folder, dtype="float32", load_progress=lambda done, total: calls.append((done, total)))
    assert model.checkpoint.weights == {}  # the stored (bf16) tensors are not kept beside the float32 ones
    params = tree_flatten(model.module.parameters())
    assert all(w.dtype == mx.float32 for _, w in params)
    total = sum(w.nbytes for _, w in params)
    assert len(calls) == len(params) and calls[-1] == (total, total)
    assert all(a[0] < b[0] for a, b in zip(calls, calls[1:])) and {t for _, t in calls} == {total}
    assert model.expert_dtype == mx.float32  # the default cap (80% of the RAM) holds this tiny model


@pytest.mark.skipif(not jit_kernels.available(), reason="numba is not installed")
def test_with_the_compiled_kernels_a_cpu_keeps_the_language_models_matrices_in_bf16(folder):
    """By default (any cap): the language model's matrices as stored, its norms and the vision in float32; the
    same greedy text as a model widened at load (the numpy kernels' default)."""
    model = engine.load(folder, dtype="float32")
    assert model.narrow == memory.LANGUAGE_MODEL and model.expert_dtype == mx.bfloat16
    assert model.dtype == mx.float32 and model.language_model.dtype == mx.float32
    params = dict(tree_flatten(model.module.parameters()))
    narrow = {n for n, w in params.items() if w.dtype == mx.bfloat16}
    assert narrow == {n for n, w in params.items() if n.startswith("language_model.") and w.ndim >= 2}
    assert {"language_model.lm_head.weight", "language_model.embed_tokens.weight"} <= narrow
    assert all(params[n].dtype == mx.float32 for n in params if n not in narrow)
    bf16_bytes = sum(params[n].nbytes for n in narrow)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(jit_kernels, "available", lambda: False)
        wide = engine.load(folder, dtype="float32")
        assert wide.narrow is None
        want = engine.ocr(wide, page(), engine.RunOptions.of(max_tokens=12))
    got = engine.ocr(model, page(), engine.RunOptions.of(max_tokens=12))
    wide_params = dict(tree_flatten(wide.module.parameters()))
    assert sum(wide_params[n].nbytes for n in narrow) == 2 * bf16_bytes  # half the bytes held
    assert got.raw_text == want.raw_text and got.generated_tokens == want.generated_tokens == 12


def test_progress_callback_can_abort_the_load(folder):
    def stop(done, total):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        engine.load(folder, load_progress=stop)


def test_a_small_memory_cap_keeps_the_routed_experts_in_bf16_with_the_same_results(folder, no_jit):
    """Without the compiled kernels: float32 where it fits, the routed experts narrow under a cap it does not."""
    full = engine.load(folder, dtype="float32")  # float32 experts: the tiny model fits
    assert full.expert_dtype == mx.float32 and full.narrow is None
    a = engine.ocr(full, page(), engine.RunOptions.of(max_tokens=12))
    small = engine.load(folder, dtype="float32", memory_limit_gb=1e-3)
    assert small.expert_dtype == mx.bfloat16 and small.dtype == mx.float32 and small.narrow == memory.ROUTED_EXPERTS
    dtypes = {n: w.dtype for n, w in tree_flatten(small.module.parameters())}
    experts = [n for n in dtypes if ".switch_mlp." in n]
    assert experts and all(dtypes[n] == mx.bfloat16 for n in experts)
    assert all(d == mx.float32 for n, d in dtypes.items() if n not in experts)
    b = engine.ocr(small, page(), engine.RunOptions.of(max_tokens=12))
    assert a.prompt_tokens > 4 * 8  # the prompt takes the grouped (prefill) path, decode the few-row one
    assert a.raw_text == b.raw_text and a.generated_tokens == b.generated_tokens == 12


def test_narrow_weights_keep_the_buffer_cache_small(folder, monkeypatch):
    """Where weights stayed narrow to save memory, MLX's buffer cache is cut to its minimum; a model widened to
    float32 keeps what the cap leaves beside the weights and the activation reserve (a 16 GB machine: ~2 GB)."""
    before = memory.cache_limit()
    try:
        mx.set_cache_limit(4 << 30)
        assert memory.fit_buffer_cache(int(8.77e9), 12.8) == int(12.8e9 - 8.77e9 - memory.ACTIVATION_RESERVE)
        mx.set_cache_limit(4 << 30)
        assert memory.fit_buffer_cache(int(8.77e9), 12.8, tight=True) == memory.MIN_BUFFER_CACHE
        seen = []
        monkeypatch.setattr("engine.model.fit_buffer_cache", lambda *a, **kw: seen.append(kw.get("tight")))
        with monkeypatch.context() as m:  # the numpy kernels: float32 where it fits, narrow experts where not
            m.setattr(jit_kernels, "available", lambda: False)
            engine.load(folder, dtype="float32")
            engine.load(folder, dtype="float32", memory_limit_gb=1e-3)
        assert seen == [False, True]
        if jit_kernels.available():  # the compiled kernels: the language model narrow, under any cap
            engine.load(folder, dtype="float32", memory_limit_gb=1e3)
            assert seen[-1] is True
    finally:
        mx.set_cache_limit(before)


def test_bf16_experts_give_the_float32_products_in_both_paths():
    rng = np.random.default_rng(0)
    w16 = mx.array(rng.standard_normal((8, 48, 40), np.float32)).astype(mx.bfloat16)
    w32 = w16.astype(mx.float32)
    x = mx.array(rng.standard_normal((3, 1, 1, 40), np.float32))
    idx = mx.array([[1, 5], [5, 7], [0, 1]])
    y16 = products.expert_linear(x, w16, idx)
    y32 = products.expert_linear(x, w32, idx)
    assert y16 is not None and y16.shape == (3, 2, 1, 48)
    # the same products up to the order of the float32 sums (which differs between the compiled kernel and BLAS,
    # and with the CPU's vector width): both within a few float32 roundings of the exact sum, measured against
    # the sum of the terms' magnitudes (a sum near zero has no relative precision)
    wd, xd, chosen = np.asarray(w32).astype(np.float64), np.asarray(x).astype(np.float64)[:, 0, 0], np.asarray(idx)
    exact = np.stack([[xd[t] @ wd[e].T for e in chosen[t]] for t in range(3)])[:, :, None]
    scale = np.stack([[np.abs(xd[t]) @ np.abs(wd[e]).T for e in chosen[t]] for t in range(3)])[:, :, None]
    for y in (y16, y32):
        assert np.all(np.abs(np.asarray(y) - exact) <= 4e-7 * scale)


def test_grouped_expert_mlp_matches_mlx_for_float32_and_bf16_weights():
    from engine.language.deepseek_v2 import MLP, SwitchGLU

    rng = np.random.default_rng(1)
    glu, shared = SwitchGLU(24, 40, 6), MLP(24, 56)
    x = mx.array(rng.standard_normal((2, 30, 24), np.float32))
    idx = mx.array(rng.integers(0, 5, (2, 30, 2)).astype(np.int32))  # expert 5 gets no rows
    assert idx.size >= glu.grouped_threshold()
    mlx_path = glu._grouped(x, idx)  # blocks of rows per expert through mx.gather_mm
    with_mlx = route.set_mode("mlx")
    try:
        shared_mlx = shared(x)
        assert glu(x, idx)[1] is None
    finally:
        route.set_mode(with_mlx)

    def ours():
        return products.expert_mlp(x, glu.gate_proj.weight, glu.up_proj.weight, glu.down_proj.weight, idx,
                                      shared.weights())

    routed, beside = ours()  # the shared experts: one more job of the same dispatch
    assert routed.shape == mlx_path.shape == (2, 30, 2, 24) and beside.shape == (2, 30, 24)
    assert np.allclose(np.asarray(routed), np.asarray(mlx_path), rtol=1e-5, atol=1e-6)
    assert np.allclose(np.asarray(beside), np.asarray(shared_mlx), rtol=1e-5, atol=1e-6)
    assert products.expert_mlp(x, glu.gate_proj.weight, glu.up_proj.weight, glu.down_proj.weight, idx)[1] is None
    glu.set_dtype(mx.bfloat16)
    shared.set_dtype(mx.bfloat16)
    half = ours()
    glu.set_dtype(mx.float32)  # the bf16 values, widened: the same numbers as the bf16 weights
    shared.set_dtype(mx.float32)
    wide = ours()
    for a, b in zip(half, wide):
        assert np.allclose(np.asarray(a), np.asarray(b), rtol=1e-6, atol=1e-7)


def test_the_kernels_and_the_memory_cap_decide_what_stays_narrow(folder, monkeypatch, no_jit):
    from engine.weights.load import read_checkpoint

    ck = read_checkpoint(folder)
    need = sum(4 * w.size for w in ck.weights.values())
    experts = (mx.bfloat16, memory.ROUTED_EXPERTS)
    assert memory.narrow_weights(ck, mx.float32, (need + memory.ACTIVATION_RESERVE) / 1e9 * 1.01) is None
    assert memory.narrow_weights(ck, mx.float32, (need + memory.ACTIVATION_RESERVE) / 1e9 * 0.99) == experts
    assert memory.narrow_weights(ck, mx.bfloat16, 1e-6) is None  # a bf16 model keeps bf16 weights anyway
    monkeypatch.setattr(memory, "ram_bytes", lambda: 1 << 40)
    assert memory.narrow_weights(ck, mx.float32) is None
    monkeypatch.setattr(jit_kernels, "available", lambda: True)  # the compiled kernels: the LM's matrices narrow
    assert memory.narrow_weights(ck, mx.float32) == (mx.bfloat16, memory.LANGUAGE_MODEL)
    assert memory.narrow_weights(ck, mx.float32, 1e3) == (mx.bfloat16, memory.LANGUAGE_MODEL)
    assert memory.narrow_weights(ck, mx.bfloat16) is None
    with pytest.raises(ValueError, match="positive"):
        memory.memory_cap(0)


@pytest.mark.parametrize("call", ["set_cache_limit", "release_freed_memory"])
def test_cache_calls_let_other_threads_run_while_mlx_computes(call):
    """MLX's own set_cache_limit waits for the running computation holding the GIL (the app's GUI thread froze
    for up to 0.7 s at the end of a load); ours wait first without it, so the main thread keeps running."""
    import threading
    import time

    a = mx.random.normal((1500, 1500))
    mx.eval(a)
    inside = {}

    def work():
        b = a
        for _ in range(12):
            b = b @ a
        mx.async_eval(b)
        inside["start"] = time.perf_counter()
        if call == "set_cache_limit":
            memory.set_cache_limit(memory.set_cache_limit(1 << 40))
        else:
            memory.release_freed_memory()
        inside["end"] = time.perf_counter()

    ticks = []
    worker = threading.Thread(target=work)
    worker.start()
    while worker.is_alive():
        time.sleep(0.002)
        ticks.append(time.perf_counter())
    worker.join()
    busy = inside["end"] - inside["start"]
    during = sum(inside["start"] < t < inside["end"] for t in ticks)
    if busy < 0.05:
        pytest.skip(f"the computation ended before the call could wait ({busy:.3f} s)")
    assert during >= busy / 0.002 * 0.2, (during, busy)
