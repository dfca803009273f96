"""Stage 4, weights: from a hub id or a folder to verified tensors in the engine's own parameter names.

- `checkpoint`: hub ids and local folders, download sizes, the default repositories;
- `config`: config.json parsed and checked (both versions; the original, transformers and mlx-community schemas);
- `tokenizer`: the tokenizer with the special ids the prompts use;
- `expected`, `layouts`, `load`: the table of expected tensors, the mapping of each checkpoint layout onto the
  original names, and `read_checkpoint`, which reads and checks everything and reports every problem at once;
- `quantized`, `quantized_model`: MLX-quantized tensors and models (reading them, writing quantized checkpoints);
- `errors`: `CheckpointError`, one message that says what is wrong and what to do.

`engine.model` builds the modules from what this stage returns.
"""
