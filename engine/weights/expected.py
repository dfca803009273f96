"""The complete table of tensors a checkpoint must hold (original deepseek-ai names and shapes), from config.

Used to check a checkpoint before building the model: every unused tensor and every missing or mis-shaped
one is reported together in one error. v2's `downsample_channels[1]` is stale (the real file says 1024, the
tensor is 896 wide): `net3_width` is the one rule for net_3's width, used here and by the model.
"""

from __future__ import annotations

Shape = tuple[int, ...]

PATCH = 16  # SAM patch size
POS_GRID = 64  # SAM pos_embed grid (1024 / 16)
WINDOW = 14
NECK = 256
CLIP_PATCH = 14


def _language(lc: dict) -> dict[str, Shape]:
    h = int(lc["hidden_size"])
    heads = int(lc["num_attention_heads"])
    kv = int(lc.get("num_key_value_heads") or heads)
    hd = int(lc.get("head_dim") or h // heads)
    v = int(lc["vocab_size"])
    inter = int(lc["intermediate_size"])
    moe = int(lc.get("moe_intermediate_size") or 0)
    n_exp = int(lc.get("n_routed_experts") or 0)
    shared = int(lc.get("n_shared_experts") or 0) * moe
    first_dense = int(lc.get("first_k_dense_replace") or 0)
    freq = int(lc.get("moe_layer_freq") or 1)
    t: dict[str, Shape] = {"model.embed_tokens.weight": (v, h), "model.norm.weight": (h,), "lm_head.weight": (v, h)}
    for i in range(int(lc["num_hidden_layers"])):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = (h,)
        t[p + "post_attention_layernorm.weight"] = (h,)
        t[p + "self_attn.q_proj.weight"] = (heads * hd, h)
        t[p + "self_attn.k_proj.weight"] = (kv * hd, h)
        t[p + "self_attn.v_proj.weight"] = (kv * hd, h)
        t[p + "self_attn.o_proj.weight"] = (h, heads * hd)
        if n_exp and i >= first_dense and i % freq == 0:
            t[p + "mlp.gate.weight"] = (n_exp, h)
            for e in range(n_exp):
                t[p + f"mlp.experts.{e}.gate_proj.weight"] = (moe, h)
                t[p + f"mlp.experts.{e}.up_proj.weight"] = (moe, h)
                t[p + f"mlp.experts.{e}.down_proj.weight"] = (h, moe)
            if shared:
                t[p + "mlp.shared_experts.gate_proj.weight"] = (shared, h)
                t[p + "mlp.shared_experts.up_proj.weight"] = (shared, h)
                t[p + "mlp.shared_experts.down_proj.weight"] = (h, shared)
        else:
            t[p + "mlp.gate_proj.weight"] = (inter, h)
            t[p + "mlp.up_proj.weight"] = (inter, h)
            t[p + "mlp.down_proj.weight"] = (h, inter)
    return t


def _sam(sc: dict, net3_out: int) -> dict[str, Shape]:
    w = int(sc["width"])
    heads = int(sc["heads"])
    hd = w // heads
    glob = set(int(i) for i in sc.get("global_attn_indexes", []))
    c2 = int(sc["downsample_channels"][0])
    pre = "model.sam_model."
    t: dict[str, Shape] = {
        pre + "patch_embed.proj.weight": (w, 3, PATCH, PATCH),
        pre + "patch_embed.proj.bias": (w,),
        pre + "pos_embed": (1, POS_GRID, POS_GRID, w),
        pre + "neck.0.weight": (NECK, w, 1, 1),
        pre + "neck.1.weight": (NECK,),
        pre + "neck.1.bias": (NECK,),
        pre + "neck.2.weight": (NECK, NECK, 3, 3),
        pre + "neck.3.weight": (NECK,),
        pre + "neck.3.bias": (NECK,),
        pre + "net_2.weight": (c2, NECK, 3, 3),
        pre + "net_3.weight": (net3_out, c2, 3, 3),
    }
    for i in range(int(sc["layers"])):
        p = f"{pre}blocks.{i}."
        rel = 2 * POS_GRID - 1 if i in glob else 2 * WINDOW - 1
        for n in ("norm1", "norm2"):
            t[p + n + ".weight"] = (w,)
            t[p + n + ".bias"] = (w,)
        t[p + "attn.qkv.weight"] = (3 * w, w)
        t[p + "attn.qkv.bias"] = (3 * w,)
        t[p + "attn.proj.weight"] = (w, w)
        t[p + "attn.proj.bias"] = (w,)
        t[p + "attn.rel_pos_h"] = (rel, hd)
        t[p + "attn.rel_pos_w"] = (rel, hd)
        t[p + "mlp.lin1.weight"] = (4 * w, w)
        t[p + "mlp.lin1.bias"] = (4 * w,)
        t[p + "mlp.lin2.weight"] = (w, 4 * w)
        t[p + "mlp.lin2.bias"] = (w,)
    return t


def _clip(cc: dict) -> dict[str, Shape]:
    w = int(cc["width"])
    n_pos = (int(cc.get("image_size", 224)) // int(cc.get("patch_size", CLIP_PATCH))) ** 2 + 1
    pre = "model.vision_model."
    t: dict[str, Shape] = {
        pre + "embeddings.class_embedding": (w,),
        pre + "embeddings.patch_embedding.weight": (w, 3, int(cc.get("patch_size", CLIP_PATCH)),
                                                    int(cc.get("patch_size", CLIP_PATCH))),
        pre + "embeddings.position_embedding.weight": (n_pos, w),
        pre + "pre_layrnorm.weight": (w,),
        pre + "pre_layrnorm.bias": (w,),
    }
    for i in range(int(cc["layers"])):
        p = f"{pre}transformer.layers.{i}."
        for n in ("layer_norm1", "layer_norm2"):
            t[p + n + ".weight"] = (w,)
            t[p + n + ".bias"] = (w,)
        t[p + "self_attn.qkv_proj.weight"] = (3 * w, w)
        t[p + "self_attn.qkv_proj.bias"] = (3 * w,)
        t[p + "self_attn.out_proj.weight"] = (w, w)
        t[p + "self_attn.out_proj.bias"] = (w,)
        t[p + "mlp.fc1.weight"] = (4 * w, w)
        t[p + "mlp.fc1.bias"] = (4 * w,)
        t[p + "mlp.fc2.weight"] = (w, 4 * w)
        t[p + "mlp.fc2.bias"] = (w,)
    return t


def _qwen2(qc: dict) -> dict[str, Shape]:
    d = int(qc["dim"])
    heads, kv, inter = int(qc["heads"]), int(qc["kv_heads"]), int(qc["intermediate_size"])
    hd = d // heads
    pre = "model.qwen2_model."
    t: dict[str, Shape] = {
        pre + "model.model.norm.weight": (d,),
        pre + "query_768.weight": ((768 // 64) ** 2, d),
        pre + "query_1024.weight": ((1024 // 64) ** 2, d),
    }
    for i in range(int(qc["layers"])):
        p = f"{pre}model.model.layers.{i}."
        t[p + "self_attn.q_proj.weight"] = (heads * hd, d)
        t[p + "self_attn.q_proj.bias"] = (heads * hd,)
        t[p + "self_attn.k_proj.weight"] = (kv * hd, d)
        t[p + "self_attn.k_proj.bias"] = (kv * hd,)
        t[p + "self_attn.v_proj.weight"] = (kv * hd, d)
        t[p + "self_attn.v_proj.bias"] = (kv * hd,)
        t[p + "self_attn.o_proj.weight"] = (d, heads * hd)
        t[p + "mlp.gate_proj.weight"] = (inter, d)
        t[p + "mlp.up_proj.weight"] = (inter, d)
        t[p + "mlp.down_proj.weight"] = (d, inter)
        t[p + "input_layernorm.weight"] = (d,)
        t[p + "post_attention_layernorm.weight"] = (d,)
    return t


def net3_width(cfg) -> int:
    """net_3's output width: v1 from the config; v2 from the encoder dim (the config's value is stale)."""
    if cfg.version == "v2":
        return int(cfg.qwen2["dim"])
    return int(cfg.sam["downsample_channels"][1])


def expected_tensors(cfg) -> dict[str, Shape]:
    """name -> shape of every tensor of the original layout for this config (a CheckpointConfig)."""
    net3_out = net3_width(cfg)
    t = _language(cfg.language)
    t.update(_sam(cfg.sam, net3_out))
    n_embed = int(cfg.projector.get("n_embed") or cfg.hidden_size)
    if cfg.family == "v1":
        t.update(_clip(cfg.clip))
        clip_w = int(cfg.clip["width"])
        t["model.projector.layers.weight"] = (n_embed, clip_w + net3_out)
        t["model.image_newline"] = (n_embed,)
    else:
        t.update(_qwen2(cfg.qwen2))
        t["model.projector.layers.weight"] = (n_embed, int(cfg.qwen2["dim"]))
    t["model.projector.layers.bias"] = (n_embed,)
    t["model.view_seperator"] = (n_embed,)
    return t
