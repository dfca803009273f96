"""Stage 3, language: prompt embeddings in, tokens out.

- `deepseek_v2`: the DeepSeek MoE decoder (Llama attention, dense and routed-expert SwiGLU layers), mlx-lm style;
- `kv_cache`: the key/value caches, one sequence (`KVCache`) or a left-padded batch (`BatchKVCache`);
- `prompt`: the task prompts and the prompt ids with their image slots;
- `generate`: chunked prefill and KV-cached decode, one sequence or a batch, with cancel checks between steps;
- `sampling`, `ngram`, `loop_guard`, `recovery`: greedy or nucleus sampling, the no-repeat n-gram ban, the
  repetition-loop detector and the rollback-and-retry ladder that recovers from a loop.

A run's decoding settings come from `engine.options.Decoding` / `Recovery` (`GenerationConfig.of`).
"""
