"""The model's device-dependent operations, chosen here once so that the model files read as plain MLX.

Where MLX's CPU kernels are far slower than the hardware allows (attention, GELU, SiLU products, LayerNorm,
few-row products, the routed experts), the layers of `language/deepseek_v2.py` and `vision/*` call an
operation of this module (`ops.attention(...)`, `ops.gelu_erf(...)`, `ops.linears(...)`, ...) instead of
choosing a route in the middle of their math. `bind()` sets every name to one of two implementations:

- on a GPU, MLX's own expression (the fused attention kernel, `mx.gather_mm`, `nn.Linear`'s product, ...);
- on MLX's CPU device, the numpy kernels of `runtime.kernels`, which fall back to the same MLX expression
  for what they decline (the `mlx` route of `DSOCR_CPU_KERNELS` / `kernels.route.set_mode`, a quantized
  weight, too many rows for a few-row product, one query row, whose attention MLX does faster).

`bind()` runs on import and at every model load (the default device may have changed in between); the
results are the same either way, only the route differs. `checkpoint` is the cancel point between a block's
parts (`runtime.cancel.point`), taken only where a block holds several rows per sequence: a decode step's
single row is short and pipelined, its kernels check the flag per job.
"""

from __future__ import annotations

from functools import partial

import mlx.core as mx
import mlx.nn as nn

from . import cancel
from .kernels import activations, products
from .kernels import attention as attention_kernels
from .kernels.erf import ERF_P, ERF_Q

split_qkv = attention_kernels.split_qkv  # the same on every device (views of a fused projection)


# ---- MLX's expressions (a GPU; the CPU's fallback) ------------------------------------------------------

def _attention_mlx(q, k, v, scale: float, mask=None, rel_pos=None) -> mx.array:
    return attention_kernels.attention(q, k, v, scale, mask, rel_pos)  # off the numpy route: MLX's fused kernel


@partial(mx.compile, shapeless=True)
def _gelu_erf_mlx(x: mx.array) -> mx.array:
    xf = x.astype(mx.float32)
    z = mx.clip(xf * 0.7071067811865476, -4.0, 4.0)
    z2 = z * z
    p = ERF_P[0]
    for c in ERF_P[1:]:
        p = p * z2 + c
    d = ERF_Q[0]
    for c in ERF_Q[1:]:
        d = d * z2 + c
    return (xf * (1.0 + z * p / d) * 0.5).astype(x.dtype)


def _quick_gelu_mlx(x: mx.array) -> mx.array:
    return x * mx.sigmoid(1.702 * x)


def _silu_mul_mlx(gate: mx.array, up: mx.array) -> mx.array:
    return nn.silu(gate) * up


def _layer_norm_mlx(x: mx.array, weight, bias, eps: float) -> mx.array:
    return mx.fast.layer_norm(x, weight, bias, eps)


def _linear_mlx(x: mx.array, layer: nn.Module) -> mx.array:
    return nn.Linear.__call__(layer, x)


def _linears_mlx(x: mx.array, layers) -> list[mx.array]:
    return [layer(x) for layer in layers]


def _gather_linear_mlx(x: mx.array, w: mx.array, indices: mx.array, sorted_indices: bool) -> mx.array:
    if w.dtype != mx.float32 and mx.default_device().type == mx.DeviceType.cpu:
        # MLX's CPU gather_mm is float32-only: gather the experts' weights and multiply with float32
        # accumulation (what the GPU kernel does for bf16/fp16), result in x's dtype
        wt = mx.take(w, indices, axis=0).swapaxes(-1, -2).astype(mx.float32)
        return mx.matmul(x.astype(mx.float32), wt).astype(x.dtype)
    return mx.gather_mm(x, w.swapaxes(-1, -2), rhs_indices=indices, sorted_indices=sorted_indices)


def _expert_mlp_mlx(x, switch, indices, shared):
    return None  # the model's own gather_mm blocks


# ---- the CPU's numpy kernels, MLX's expression where they decline ---------------------------------------

def _attention_cpu(q, k, v, scale: float, mask=None, rel_pos=None) -> mx.array:
    if q.shape[2] == 1 and rel_pos is None:  # one query row (a decode step): MLX's kernel beats a numpy round trip
        return mx.fast.scaled_dot_product_attention(q, k, v, scale=scale, mask=mask)
    return attention_kernels.attention(q, k, v, scale, mask, rel_pos)


def _gelu_erf_cpu(x: mx.array) -> mx.array:
    y = activations.gelu_erf(x)
    return _gelu_erf_mlx(x) if y is None else y


def _quick_gelu_cpu(x: mx.array) -> mx.array:
    y = activations.quick_gelu(x)
    return _quick_gelu_mlx(x) if y is None else y


def _silu_mul_cpu(gate: mx.array, up: mx.array) -> mx.array:
    y = activations.silu_mul(gate, up) if gate.size > gate.shape[-1] else None  # one row: MLX's is as fast
    return _silu_mul_mlx(gate, up) if y is None else y


def _layer_norm_cpu(x: mx.array, weight, bias, eps: float) -> mx.array:
    y = activations.layer_norm(x, weight, bias, eps) if weight is not None and bias is not None else None
    return _layer_norm_mlx(x, weight, bias, eps) if y is None else y


def _linear_cpu(x: mx.array, layer: nn.Module) -> mx.array:
    y = products.linear(x, layer["weight"], layer.get("bias"))
    return _linear_mlx(x, layer) if y is None else y


def _linears_cpu(x: mx.array, layers) -> list[mx.array]:
    ys = products.linears(x, [p["weight"] for p in layers], [p.get("bias") for p in layers])
    return _linears_mlx(x, layers) if ys is None else ys


def _gather_linear_cpu(x: mx.array, w: mx.array, indices: mx.array, sorted_indices: bool) -> mx.array:
    y = None if sorted_indices else products.expert_linear(x, w, indices)  # few (token, expert) rows: gemv
    return _gather_linear_mlx(x, w, indices, sorted_indices) if y is None else y


def _expert_mlp_cpu(x, switch, indices, shared):
    decode = x.size // x.shape[-1] <= products.MAX_ROWS  # a decode step: the shared experts join the dispatch
    ys = products.expert_mlp(x, switch.gate_proj["weight"], switch.up_proj["weight"], switch.down_proj["weight"],
                             indices, shared.weights() if shared is not None and decode else None)
    if ys is None:
        return None
    y, beside = ys
    return y, (shared(x) if shared is not None and beside is None else beside)


# ---- the bound names ----------------------------------------------------------------------------------------

_ROUTES = {
    "attention": (_attention_mlx, _attention_cpu),
    "gelu_erf": (_gelu_erf_mlx, _gelu_erf_cpu),
    "quick_gelu": (_quick_gelu_mlx, _quick_gelu_cpu),
    "silu_mul": (_silu_mul_mlx, _silu_mul_cpu),
    "layer_norm": (_layer_norm_mlx, _layer_norm_cpu),
    "linear": (_linear_mlx, _linear_cpu),
    "linears": (_linears_mlx, _linears_cpu),
    "gather_linear": (_gather_linear_mlx, _gather_linear_cpu),
    "expert_mlp": (_expert_mlp_mlx, _expert_mlp_cpu),
}

# what the layers call (set by `bind`; documented here, where a reader of the model looks them up)
attention = _attention_cpu  # softmax(q k^T * scale + mask | rel_pos) v; `kernels.attention.attention`'s contract
gelu_erf = _gelu_erf_cpu  # exact (erf) GELU in float32 (`kernels.erf`), cast back to x's dtype
quick_gelu = _quick_gelu_cpu  # x * sigmoid(1.702 x)
silu_mul = _silu_mul_cpu  # silu(gate) * up
layer_norm = _layer_norm_cpu  # LayerNorm over the last axis (`mx.fast.layer_norm`'s contract)
linear = _linear_cpu  # an `nn.Linear` layer applied to x
linears = _linears_cpu  # several layers applied to the same x (a decode step's q/k/v or gate/up: one dispatch)
gather_linear = _gather_linear_cpu  # x @ w[indices].T per row (stacked experts [E, out, in]), as `mx.gather_mm`
expert_mlp = _expert_mlp_cpu  # a SwitchGLU's whole routed (+ shared) experts at once, or None: the model's own


def bind() -> str:
    """Bind every operation for the default device: 'cpu' (the numpy kernels) or 'mlx' (MLX's own)."""
    route = "cpu" if mx.default_device().type == mx.DeviceType.cpu else "mlx"
    for name, (mlx_op, cpu_op) in _ROUTES.items():
        globals()[name] = cpu_op if route == "cpu" else mlx_op
    return route


def checkpoint(x: mx.array) -> None:
    """A cancel point after `x` (`runtime.cancel.point`), where x holds several rows per sequence."""
    if x.ndim >= 2 and x.shape[-2] > 1:
        cancel.point(x)


bind()
