"""What the stages share at run time: the machine's libraries, the device, memory, the CPU kernels, cancelling.

- `blas`, `allocator`: a fast BLAS for MLX on Linux and numpy's OpenBLAS kept calm; glibc keeps freed memory;
- `device`: the compute dtype per device, exact float32 on GPUs, small CUDA graphs;
- `memory`: the memory cap of a load, which weights stay narrow, MLX's buffer cache (raised at load);
- `kernels`, `jit_kernels`: numpy (and numba-compiled) stand-ins for MLX's slow CPU kernels;
- `ops`: the model's device-dependent operations, bound once per device to those kernels or to MLX's own;
- `cancel`: the cancel points inside long graphs; `settings`: the `DSOCR_*` environment variables.

Importing this package does no work; `engine/__init__.py` calls the set-up functions in their order.
"""
