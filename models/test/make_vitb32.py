#!/usr/bin/env python3
"""Writes a real-size, random-weight CLIP ViT-B/32 in the immich layout, for benchmarks only.

Encoder throughput depends on the architecture, not on the weights, so a random ViT-B/32
(vision 768 wide x 12 layers, patch 32, text 512 x 12, projection 512) measures what the real
OpenAI model would cost. About 600 MB, so it is generated (into a folder you name, e.g.
target/bench-models/vitb32-random) rather than committed:

    .venv/bin/python models/test/make_vitb32.py target/bench-models/vitb32-random
    .venv/bin/python models/test/make_vitb32.py --zoo target/bench-models/vitb32-zoo

Default: transformers' CLIPModel exported with a dynamic batch. `--zoo`: open_clip's ViT-B-32
exported the way the immich zoo's current exporter does (encode_image/encode_text with
normalize=True, `image` fixed at [1, 3, 224, 224], `text` int32 fixed at [1, 77], opset 17,
the attention fast path off), so a benchmark measures the batched and variable-length copies
Glimpse makes of the zoo's models (needs open_clip_torch too).

Needs torch + transformers + onnx (versions: models/test/requirements.txt). Takes ~1 minute.
"""
import json
import shutil
import sys
from pathlib import Path

import torch
from transformers import CLIPConfig, CLIPModel

HERE = Path(__file__).resolve().parent
MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]


class Visual(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, image):
        pooled = self.m.vision_model(pixel_values=image).pooler_output
        return self.m.visual_projection(pooled)


class Textual(torch.nn.Module):
    def __init__(self, m):
        super().__init__()
        self.m = m

    def forward(self, text):
        pooled = self.m.text_model(input_ids=text.long()).pooler_output
        return self.m.text_projection(pooled)


def export_transformers(out: Path, cfg: CLIPConfig) -> None:
    model = CLIPModel(cfg).eval()
    with torch.no_grad():
        torch.onnx.export(Visual(model), (torch.zeros(2, 3, 224, 224),), out / "visual/model.onnx",
                          input_names=["image"], output_names=["embedding"],
                          dynamic_axes={"image": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)
        torch.onnx.export(Textual(model), (torch.zeros(2, 77, dtype=torch.int32),),
                          out / "textual/model.onnx", input_names=["text"],
                          output_names=["embedding"],
                          dynamic_axes={"text": {0: "batch"}, "embedding": {0: "batch"}},
                          opset_version=17, dynamo=False)


def normalized(encode):
    """`encode(x, normalize=True)` as a one-argument function, for the tracer."""
    return lambda x: encode(x, normalize=True)


def export_zoo_form(out: Path) -> None:
    import warnings

    import open_clip

    torch.backends.mha.set_fastpath_enabled(False)
    model = open_clip.create_model("ViT-B-32", pretrained=None).eval()
    for p in model.parameters():
        p.requires_grad_(False)
    for tower, name, shape, dtype in [
        ("visual", "image", (1, 3, 224, 224), torch.float32),
        ("textual", "text", (1, 77), torch.int32),
    ]:
        model.forward = normalized(model.encode_image if tower == "visual" else model.encode_text)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(model, (torch.ones(shape, dtype=dtype),), out / tower / "model.onnx",
                              input_names=[name], output_names=["embedding"], opset_version=17,
                              dynamo=False)


def main() -> None:
    args = [a for a in sys.argv[1:] if a != "--zoo"]
    zoo = "--zoo" in sys.argv[1:]
    out = Path(args[0] if args else "target/bench-models/vitb32-random")
    torch.manual_seed(0)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=8, max_position_embeddings=77, vocab_size=49408,
                         eos_token_id=49407, bos_token_id=49406, pad_token_id=0),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32),
        projection_dim=512,
    )
    (out / "visual").mkdir(parents=True, exist_ok=True)
    (out / "textual").mkdir(parents=True, exist_ok=True)
    if zoo:
        export_zoo_form(out)
    else:
        export_transformers(out, cfg)
    (out / "visual/preprocess_cfg.json").write_text(json.dumps(
        {"size": [224, 224], "mode": "RGB", "mean": MEAN, "std": STD,
         "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}))
    shutil.copy(HERE / "tokenizer.json", out / "textual/tokenizer.json")
    (out / "config.json").write_text(json.dumps(
        {"embed_dim": 512, "vision_cfg": {"image_size": 224, "layers": 12, "width": 768,
                                           "patch_size": 32},
         "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 512, "heads": 8,
                      "layers": 12}}))
    print(f"wrote random ViT-B/32 ({'zoo form' if zoo else 'transformers'}) to {out}")


if __name__ == "__main__":
    main()
