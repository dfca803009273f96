"""numpy stand-ins for the MLX CPU kernels that are slow here, one module per job.

On MLX's CPU backend three things run far below what the hardware allows, and numpy (whose own OpenBLAS and
vectorised `exp` are fast) does them instead, evaluating the MLX graph at the boundary and handing an MLX
array back:

- `attention`: scores, softmax and @ V in chunks on the thread pool (MLX's CPU softmax is scalar);
- `activations`: exact-erf GELU, quick_gelu, SiLU-gated products, LayerNorm (3-10x MLX's CPU speed);
- `products`: few-row products (the decode step's linear layers and routed experts) at numpy's gemv speed,
  bfloat16 weights read as stored through `runtime.jit_kernels`.

Beside them: `route` (which path is taken: `DSOCR_CPU_KERNELS=numpy|mlx`, numpy by default, MLX's own on a
GPU), `pool` (the thread pool, numpy's BLAS kept single-threaded inside it, per-job cancel checks) and `erf`
(the GELU's erf coefficients). The model never calls these directly: `runtime.ops` binds each operation to its
kernel or to MLX's expression once for the device. Everything here is inference-only: it evaluates the graph,
so it cannot be differentiated or traced by `mx.compile`. Importing it does no work.
"""
