#!/usr/bin/env python3
"""Writes a small open_clip text tower exported the way the immich model zoo exports it, with
reference embeddings from open_clip itself.

The default model (immich-app/ViT-B-32__openai) is an open_clip export: a fixed [1, 77] int32
input, the position table added whole, a [77, 77] causal mask per block and Reshape targets
with 77 written into them. The other test models come from transformers, whose graphs build
their mask and positions from the input's shape, so they cannot show whether Glimpse's
variable-length rewrite of a text graph (crates/onnx/src/seqlen.rs) handles the zoo's form. This one
has open_clip's text architecture (token and position embeddings, pre-LN residual attention
blocks through nn.MultiheadAttention, causal mask, argmax pooling, projection, L2 norm) at a
small size: width 32, 2 heads, 2 layers, context 77, the real 49408-token vocabulary.

Writes models/test/openclip-text/:
  model.onnx      torch.onnx.export(dynamo=False) of encode_text(normalize=True), input
                  "text" int32 [1, 77], output "embedding" [1, 512], opset 17, as immich's
                  exporter (machine-learning/export/immich_model_exporter) calls it
  reference.json  captions, their open_clip token ids, and open_clip's embeddings in PyTorch

Weights are drawn from one seeded generator at a larger scale than open_clip's init (std 0.02
makes every caption embed alike): token and position embeddings std 0.3, attention input
projections std 0.3, other matrices 1/sqrt(fan_in), biases 0.02, LayerNorms identity. The
token table is rounded to float16 and stored as such (a Gather, then a Cast to float32) to
halve the file; the reference uses the same rounded values.

Usage: .venv/bin/python models/test/make_openclip_text.py
"""
import json
import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

OUT = os.path.join(common.HERE, "openclip-text")
CAPTIONS = [
    "a dog asleep on a red sofa",
    "snowy mountains at sunrise",
    "",
    "a photo of a cat",
    "two children playing football on a beach while their parents watch from the dunes "
    "and a kite with a long red tail flies over the grey sea in the late afternoon light",
]


def main():
    common.print_versions("make_openclip_text")
    common.seed_everything(0)
    import open_clip
    import torch
    import torch.nn.functional as F
    from open_clip.model import CLIP

    torch.backends.mha.set_fastpath_enabled(False)
    model = CLIP(
        embed_dim=512,
        vision_cfg=dict(layers=1, width=32, head_width=16, patch_size=32, image_size=224),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=2),
        quick_gelu=True,
    ).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.startswith("visual."):
                continue
            if name in ("token_embedding.weight", "positional_embedding") or "in_proj_weight" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.3)
            elif "ln" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(p.shape[0 if name == "text_projection" else 1]))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
        # The token table as float16 values, stored as float16 in the graph.
        half = model.token_embedding.weight.detach().half()

    class HalfEmbedding(torch.nn.Module):
        def __init__(self, w):
            super().__init__()
            self.register_buffer("w", w)

        def forward(self, ids):
            return F.embedding(ids, self.w).float()

    model.token_embedding = HalfEmbedding(half)
    for p in model.parameters():
        p.requires_grad_(False)

    def encode_text(text):
        return model.encode_text(text, normalize=True)

    model.forward = encode_text
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.ones(1, 77, dtype=torch.int32),), path,
                          input_names=["text"], output_names=["embedding"], opset_version=17,
                          dynamo=False)

    ids = open_clip.tokenize(CAPTIONS)  # [n, 77], SOT ... EOT then 0
    with torch.no_grad():
        embs = encode_text(ids)
    entries = []
    for caption, row, emb in zip(CAPTIONS, ids, embs):
        entries.append({"text": caption, "ids": [int(i) for i in row if i != 0],
                        "embedding": [round(float(x), 8) for x in emb]})

    # Checks: onnxruntime gives open_clip's embeddings; captions are told apart; the positions
    # after the end token change nothing (what the rewrite relies on).
    import numpy as np
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    got = np.concatenate([sess.run(None, {"text": r[None].numpy().astype(np.int32)})[0] for r in ids])
    worst = float(min((got * embs.numpy()).sum(1)))
    cos = embs @ embs.T
    off = float(max(cos[i, j] for i in range(len(CAPTIONS)) for j in range(len(CAPTIONS)) if i != j))
    tail = ids.clone()
    tail[0, 10:] = 123
    with torch.no_grad():
        moved = float((encode_text(tail)[0] - embs[0]).abs().max())
    print(f"onnxruntime vs open_clip: min cosine {worst:.8f}; distinct captions: max cosine {off:.4f}; "
          f"tokens after the end changed the first embedding by {moved:.2e}")
    assert worst > 0.999999 and off < 0.95 and moved == 0.0
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "models/test/make_openclip_text.py", "versions": dict(common.versions()),
                   "texts": entries}, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and reference.json")


if __name__ == "__main__":
    main()
