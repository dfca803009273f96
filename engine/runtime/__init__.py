"""Runtime set-up: a fast BLAS for MLX on Linux, device-dependent defaults, numpy kernels for the CPU backend."""
