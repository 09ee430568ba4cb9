#!/usr/bin/env python3
"""Writes a small open_clip image tower exported the way the immich model zoo exports it
(one picture per run), with reference embeddings from open_clip itself.

The zoo's current exporter (machine-learning/export/immich_model_exporter, exporters/onnx/
models/openclip.py) traces encode_image on a [1, 3, 224, 224] input with its dynamic_axes
commented out, so the tracer writes the batch of 1 into the graph: the class token expanded to
one picture, Reshape targets such as [50, 4, 16] (tokens, batch x heads, head width) and
[50, 1, 64]. Glimpse rewrites such graphs to take a batch (crates/onnx/src/batch.rs); the other test
models come from transformers (tiny-clip-hf's vision_model.onnx is also fixed at one picture,
but with transformers' attention), so this one checks the rewrite on the zoo's own form. It has
open_clip's ViT (conv patch embedding, class token, positions, ln_pre, pre-LN residual blocks
through nn.MultiheadAttention with the fast path off as the exporter sets it, ln_post on the
class token, projection, L2 norm) at a small size: width 64, 4 heads, 2 layers, patch 32,
224 px, embedding 512.

Writes models/test/openclip-image/:
  model.onnx      torch.onnx.export(dynamo=False) of encode_image(normalize=True), input
                  "image" float32 [1, 3, 224, 224], output "embedding" [1, 512], opset 17
  reference.json  for the fixtures in tests/fixtures/reference/images.json: open_clip's
                  embedding (PyTorch) of each one's reference pixels (pixels/<file>.f32, the
                  transformers CLIP preprocessing), so the rewrite is checked on real pictures
                  without depending on Glimpse's own preprocessing

Weights are drawn from one seeded generator with the scaled init of the other test towers
(CLIP's std 0.02 makes every picture embed alike): patch embedding std 0.2, class embedding
0.1, positions 0.15, attention input projections 0.25, other matrices 1/sqrt(fan_in), biases
0.02, LayerNorms identity.

Usage: .venv/bin/python models/test/make_openclip_image.py
"""
import json
import math
import os
import sys
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

OUT = os.path.join(common.HERE, "openclip-image")
FIXTURES = os.path.join(common.REPO, "tests", "fixtures", "reference")


def main():
    common.print_versions("make_openclip_image")
    common.seed_everything(0)
    import numpy as np
    import onnxruntime as ort
    import torch
    from open_clip.model import CLIP

    torch.backends.mha.set_fastpath_enabled(False)
    model = CLIP(
        embed_dim=512,
        vision_cfg=dict(layers=2, width=64, head_width=16, patch_size=32, image_size=224),
        text_cfg=dict(context_length=77, vocab_size=49408, width=32, heads=2, layers=1),
        quick_gelu=True,
    ).eval()
    gen = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for name, p in model.visual.named_parameters():
            if name == "conv1.weight":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.2)
            elif name == "class_embedding":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.1)
            elif name == "positional_embedding":
                p.copy_(torch.randn(p.shape, generator=gen) * 0.15)
            elif "in_proj_weight" in name:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.25)
            elif "ln" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
            elif p.dim() == 2:
                fan_in = p.shape[0] if name == "proj" else p.shape[1]
                p.copy_(torch.randn(p.shape, generator=gen) / math.sqrt(fan_in))
            else:
                p.copy_(torch.randn(p.shape, generator=gen) * 0.02)
    for p in model.parameters():
        p.requires_grad_(False)

    def encode_image(image):
        return model.encode_image(image, normalize=True)

    model.forward = encode_image
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "model.onnx")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 224, 224, generator=gen),), path,
                          input_names=["image"], output_names=["embedding"], opset_version=17,
                          dynamo=False)

    with open(os.path.join(FIXTURES, "images.json"), encoding="utf-8") as f:
        fixtures = json.load(f)["images"]
    pixels = np.stack([np.fromfile(os.path.join(FIXTURES, e["pixels_file"]), dtype="<f4")
                       .reshape(3, 224, 224) for e in fixtures])
    with torch.no_grad():
        embs = encode_image(torch.from_numpy(pixels)).numpy()

    # Checks: the graph takes one picture; onnxruntime gives open_clip's embeddings one picture
    # at a time; the pictures are told apart; a batch is refused, as the rewrite expects.
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    assert [d for d in sess.get_inputs()[0].shape] == [1, 3, 224, 224]
    got = np.concatenate([sess.run(None, {"image": p[None]})[0] for p in pixels])
    worst = float(min((got * embs).sum(1)))
    cos = embs @ embs.T
    # Fixtures that show the same picture (the EXIF orientations) have the same pixels.
    keys = [e["pixels_sha256"] for e in fixtures]
    n = len(embs)
    pairs = [cos[i, j] for i in range(n) for j in range(n) if keys[i] != keys[j]]
    off, mean = float(max(pairs)), float(np.mean(pairs))
    try:
        sess.run(None, {"image": pixels[:2]})
        refused = False
    except Exception:  # noqa: BLE001 - onnxruntime raises its own error types
        refused = True
    print(f"onnxruntime vs open_clip: min cosine {worst:.8f}; distinct pictures: max cosine "
          f"{off:.4f}, mean {mean:.4f}; a batch of 2 refused: {refused}")
    assert worst > 0.999999 and off < 0.999 and mean < 0.9 and refused
    entries = [{"file": e["file"], "pixels_file": e["pixels_file"],
                "embedding": [round(float(x), 8) for x in emb]} for e, emb in zip(fixtures, embs)]
    with open(os.path.join(OUT, "reference.json"), "w", encoding="utf-8") as f:
        json.dump({"generator": "models/test/make_openclip_image.py",
                   "versions": dict(common.versions()), "images": entries}, f, indent=1)
        f.write("\n")
    print(f"wrote {path} ({os.path.getsize(path)} bytes) and reference.json")


if __name__ == "__main__":
    main()
