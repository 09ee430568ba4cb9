#!/usr/bin/env python3
"""Build the tiny random-weight CLIP test models of Glimpse.

One transformers.CLIPModel (the real CLIP architecture, tiny sizes, seeded random weights with a
scaled init so that the embeddings react to image content, orientation and preprocessing) is
exported twice with torch.onnx.export:

  models/test/tiny-clip/        immich model-zoo layout (what Glimpse loads)
      visual/model.onnx             image  float32 [N,3,224,224] -> embedding float32 [N,512]
      visual/preprocess_cfg.json
      textual/model.onnx            text   int32 [N,77]          -> embedding float32 [N,512]
      textual/tokenizer.json        (copy of models/test/tokenizer.json)
      config.json                   open_clip style
  models/test/tiny-clip-hf/     Hugging Face / transformers.js layout
      onnx/vision_model.onnx        pixel_values float32 [1,3,224,224] (fixed batch 1) -> image_embeds [1,512]
      onnx/text_model.onnx          input_ids int64 [N,77], attention_mask int64 [N,77] -> text_embeds [N,512]
      tokenizer.json, tokenizer_config.json, preprocessor_config.json, config.json

Embeddings are the projected features, NOT L2-normalised. Both layouts hold the same weights.
The text graphs pool at the first position whose id is 49407 (<|endoftext|>), as transformers
does for eos_token_id=49407; with open_clip.tokenize ids (EOT then 0-padding) that is open_clip's
argmax pooling.

The token-embedding table (49408 x 32) is stored as float16 in the .onnx files followed by a Cast
to float32 (to halve the file size); the torch weights are rounded to float16 values first, so the
float32 model and the ONNX graphs compute exactly the same function.

Usage: .venv/bin/python models/test/make_test_models.py   (run make_tokenizer.py first)
"""
import sys

sys.dont_write_bytecode = True
import io
import json
import os
import shutil
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

SEED = 20240601
IMMICH = os.path.join(common.HERE, "tiny-clip")
HF = os.path.join(common.HERE, "tiny-clip-hf")
TOKENIZER = os.path.join(common.HERE, "tokenizer.json")
OPSET = 17

# ---- architecture -------------------------------------------------------------------------
VISION = dict(image_size=224, patch_size=32, hidden_size=64, intermediate_size=256,
              num_hidden_layers=2, num_attention_heads=4, hidden_act="quick_gelu")
TEXT = dict(vocab_size=49408, hidden_size=32, intermediate_size=128, num_hidden_layers=2,
            num_attention_heads=2, max_position_embeddings=77, hidden_act="quick_gelu",
            eos_token_id=49407, bos_token_id=49406, pad_token_id=0)
PROJECTION_DIM = 512
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

# ---- init scaling (std of a normal distribution per parameter) ----------------------------
# Default CLIP init (std 0.02 everywhere) makes every image embed almost identically: the class
# and position embeddings dominate and attention is uniform. These stds make the content matter
# (pre-LayerNorm removes the absolute scale, so what counts is patch vs. class/position scale and
# the sharpness of attention), tuned so that checks (a)-(d) below hold with margin.
VISION_INIT = {
    "embeddings.patch_embedding.weight": 0.2,
    "embeddings.class_embedding": 0.1,
    "embeddings.position_embedding.weight": 0.15,
    "q_proj.weight": 0.25, "k_proj.weight": 0.25,        # sharp, content-dependent attention
    "v_proj.weight": 64 ** -0.5, "out_proj.weight": 64 ** -0.5,
    "fc1.weight": 64 ** -0.5, "fc2.weight": 256 ** -0.5,
    "visual_projection.weight": 64 ** -0.5,
}
TEXT_INIT = {
    "embeddings.token_embedding.weight": 0.02,
    "embeddings.position_embedding.weight": 0.01,
    "q_proj.weight": 0.2 * 32 ** -0.5, "k_proj.weight": 0.2 * 32 ** -0.5,
    "v_proj.weight": 32 ** -0.5, "out_proj.weight": 32 ** -0.5,
    "fc1.weight": 32 ** -0.5, "fc2.weight": 128 ** -0.5,
    "text_projection.weight": 32 ** -0.5,
}
BIAS_STD = 0.02


def build_model():
    import torch
    from transformers import CLIPConfig, CLIPModel

    cfg = CLIPConfig(text_config=TEXT, vision_config=VISION, projection_dim=PROJECTION_DIM)
    cfg.text_config.projection_dim = PROJECTION_DIM
    cfg.vision_config.projection_dim = PROJECTION_DIM
    torch.manual_seed(SEED)
    model = CLIPModel(cfg)
    # Explicit init of every parameter from one generator (independent of transformers' own
    # init scheme, so the weights only depend on SEED and the tables above).
    gen = torch.Generator().manual_seed(SEED)
    with torch.no_grad():
        for name, p in model.named_parameters():
            tower = VISION_INIT if (name.startswith("vision_model") or name.startswith("visual_")) else TEXT_INIT
            if name == "logit_scale":
                p.fill_(2.6592)  # log(1/0.07), CLIP's init
                continue
            if ".layer_norm" in name or "layernorm" in name or "layrnorm" in name or "final_layer_norm" in name:
                p.fill_(1.0 if name.endswith("weight") else 0.0)
                continue
            std = None
            for key, s in tower.items():
                if name.endswith(key):
                    std = s
                    break
            if std is None:
                if name.endswith(".bias"):
                    std = BIAS_STD
                else:
                    raise RuntimeError(f"no init rule for parameter {name} {tuple(p.shape)}")
            p.copy_(torch.randn(p.shape, generator=gen) * std)
        # stored as float16 in ONNX -> make the float32 torch weights exactly float16 values
        emb = model.text_model.embeddings.token_embedding.weight
        emb.copy_(emb.half().float())
    # eager attention: plain MatMul/Softmax graphs with an explicit additive mask (sdpa's tracing
    # shortcuts depend on the example inputs)
    model.set_attn_implementation("eager")
    model.eval()
    return model


# ---- reference-style preprocessing ----------------------------------------------------------
def processor():
    from transformers import CLIPImageProcessorPil

    return CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224},
                                 resample=3, image_mean=CLIP_MEAN, image_std=CLIP_STD, do_convert_rgb=True)


def manual_pixels(img, shift=0, resample=None):
    """Same steps as CLIPImageProcessorPil, with hooks to perturb them (crop shift, resample)."""
    import numpy as np
    from PIL import Image

    resample = Image.Resampling.BICUBIC if resample is None else resample
    w, h = img.size
    nw, nh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    r = img.convert("RGB").resize((nw, nh), resample)
    left, top = (nw - 224) // 2 + shift, (nh - 224) // 2
    a = (np.asarray(r.crop((left, top, left + 224, top + 224))).astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return a.transpose(2, 0, 1)[None].copy()


def image_embed(model, pixels):
    import torch

    with torch.no_grad():
        out = model.vision_model(pixel_values=torch.from_numpy(pixels)).pooler_output
        e = model.visual_projection(out)
    return torch.nn.functional.normalize(e, dim=-1).numpy()


def text_embed(model, ids):
    import torch

    with torch.no_grad():
        out = model.text_model(input_ids=ids).pooler_output
        e = model.text_projection(out)
    return torch.nn.functional.normalize(e, dim=-1).numpy()


def run_checks(model):
    import numpy as np
    import open_clip
    from PIL import Image

    proc = processor()
    imgs = [common.photo_like(640, 480, 1000 + i) for i in range(8)]
    px = [proc(images=im, return_tensors="np").pixel_values for im in imgs]
    for im, p in zip(imgs, px):  # the manual path is the processor's path, bit for bit
        assert np.array_equal(manual_pixels(im), p), "manual preprocessing != CLIPImageProcessorPil"
    E = np.concatenate([image_embed(model, p) for p in px])
    emb = lambda im, **kw: image_embed(model, manual_pixels(im, **kw))[0]  # noqa: E731

    C = E @ E.T
    off = C[~np.eye(len(E), dtype=bool)]
    res = {}
    res["a_distinct_max"] = float(off.max())
    res["a_distinct_mean"] = float(off.mean())
    res["b_rot180_max"] = max(float(emb(im.rotate(180)) @ e) for im, e in zip(imgs, E))
    res["b_rot90_max"] = max(float(emb(im.transpose(Image.Transpose.ROTATE_90)) @ e) for im, e in zip(imgs, E))
    res["b_flip_lr_max"] = max(float(emb(im.transpose(Image.Transpose.FLIP_LEFT_RIGHT)) @ e) for im, e in zip(imgs, E))
    shift = [float(emb(im, shift=1) @ e) for im, e in zip(imgs, E)]
    bil = [float(emb(im, resample=Image.Resampling.BILINEAR) @ e) for im, e in zip(imgs, E)]
    res["c_crop_shift_1px_max"] = max(shift)
    res["c_bilinear_max"] = max(bil)
    res["c_bilinear_mean"] = float(np.mean(bil))

    def jpeg(im):
        b = io.BytesIO()
        im.save(b, "JPEG", quality=90)
        b.seek(0)
        return Image.open(b).convert("RGB")

    jp = [float(emb(jpeg(im)) @ e) for im, e in zip(imgs, E)]
    res["d_jpeg_q90_min"] = min(jp)
    res["d_jpeg_q90_mean"] = float(np.mean(jp))

    caps = ["a photo of a dog", "a photo of a cat", "a red car parked in the street", "kids on a beach at sunset",
            "a bowl of soup", "mountains covered in snow", "a photo of a dog.", "two people talking in an office"]
    T = text_embed(model, open_clip.tokenize(caps))
    CT = T @ T.T
    offt = CT[~np.eye(len(T), dtype=bool)]
    res["text_distinct_max"] = float(offt.max())
    res["text_distinct_mean"] = float(offt.mean())
    res["text_dog_vs_cat"] = float(CT[0, 1])

    print("checks (cosine similarities of L2-normalised embeddings, 8 photo-like 640x480 pictures):")
    print(f"  (a) distinct pictures:    max {res['a_distinct_max']:.4f}  mean {res['a_distinct_mean']:.4f}   (need max < 0.98)")
    print(f"  (b) rotated 180 / 90:     max {res['b_rot180_max']:.4f} / {res['b_rot90_max']:.4f}   (need < 0.99); flip l-r max {res['b_flip_lr_max']:.4f}")
    print(f"  (c) crop shifted 1 px:    max {res['c_crop_shift_1px_max']:.6f}   (need < 0.9999)")
    print(f"      bilinear for bicubic: max {res['c_bilinear_max']:.6f}  mean {res['c_bilinear_mean']:.6f}   (need < 0.9999)")
    print(f"  (d) JPEG q90 re-encoded:  min {res['d_jpeg_q90_min']:.4f}  mean {res['d_jpeg_q90_mean']:.4f}   (need > 0.99)")
    print("      per picture: bilinear " + " ".join(f"{v:.5f}" for v in bil) + "; jpeg " + " ".join(f"{v:.4f}" for v in jp))
    print(f"  text: distinct captions max {res['text_distinct_max']:.4f} mean {res['text_distinct_mean']:.4f}; "
          f"'a photo of a dog' vs '... cat' {res['text_dog_vs_cat']:.4f}")
    ok = True
    if not res["a_distinct_max"] < 0.98:
        print("FAIL (a)")
        ok = False
    if not (res["b_rot180_max"] < 0.99 and res["b_rot90_max"] < 0.99):
        print("FAIL (b)")
        ok = False
    if not (res["c_crop_shift_1px_max"] < 0.9999 and res["c_bilinear_max"] < 0.9999):
        print("WARN (c): a preprocessing perturbation is not measurable")
    if not res["d_jpeg_q90_min"] > 0.99:
        print("WARN (d): JPEG re-encoding moves embeddings too much")
    if not res["text_distinct_max"] < 0.98:
        print("FAIL text: distinct captions are not clearly different")
        ok = False
    if not ok:
        raise SystemExit("model checks failed")
    return res


# ---- export ---------------------------------------------------------------------------------
def _wrappers(model):
    import torch

    class Visual(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.vision_model, self.visual_projection = m.vision_model, m.visual_projection

        def forward(self, x):
            return self.visual_projection(self.vision_model(pixel_values=x).pooler_output)

    class TextInt32(torch.nn.Module):  # immich: int32 ids, no mask (causal mask + EOT pooling)
        def __init__(self, m):
            super().__init__()
            self.text_model, self.text_projection = m.text_model, m.text_projection

        def forward(self, text):
            return self.text_projection(self.text_model(input_ids=text.to(torch.int64)).pooler_output)

    class TextHF(torch.nn.Module):  # transformers.js: int64 ids + attention mask
        def __init__(self, m):
            super().__init__()
            self.text_model, self.text_projection = m.text_model, m.text_projection

        def forward(self, input_ids, attention_mask):
            out = self.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
            return self.text_projection(out)

    return Visual(model).eval(), TextInt32(model).eval(), TextHF(model).eval()


def _export(module, args, path, inputs, outputs, dynamic_axes):
    import torch

    os.makedirs(os.path.dirname(path), exist_ok=True)
    torch.onnx.export(module, args, path, input_names=inputs, output_names=outputs,
                      dynamic_axes=dynamic_axes, opset_version=OPSET, do_constant_folding=True,
                      dynamo=False)


def _finish_onnx(path, fp16_token_embedding):
    """Optionally store the token-embedding table as float16 (+Cast), strip doc strings, check."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    m = onnx.load(path)
    g = m.graph
    if fp16_token_embedding:
        inits = {i.name: i for i in g.initializer}
        big = [i for i in g.initializer if list(i.dims) == [TEXT["vocab_size"], TEXT["hidden_size"]]]
        assert len(big) == 1, [i.name for i in big]
        init = big[0]
        arr = numpy_helper.to_array(init)
        half = arr.astype(np.float16)
        assert np.array_equal(half.astype(np.float32), arr), "token embedding is not float16-exact"
        new = numpy_helper.from_array(half, init.name)
        init.CopyFrom(new)
        users = [n for n in g.node if init.name in n.input]
        assert len(users) == 1 and users[0].op_type == "Gather", [(n.op_type, n.name) for n in users]
        gather = users[0]
        old_out = gather.output[0]
        half_out = old_out + "_fp16"
        gather.output[0] = half_out
        cast = helper.make_node("Cast", [half_out], [old_out], to=TensorProto.FLOAT,
                                name="token_embedding_to_float32")
        idx = list(g.node).index(gather)
        g.node.insert(idx + 1, cast)
        del inits
    for n in g.node:
        n.doc_string = ""
    m.doc_string = ""
    onnx.checker.check_model(m, full_check=True)
    onnx.save(m, path)  # one self-contained file, no external data


def export_all(model, work):
    import torch

    visual, text32, texthf = _wrappers(model)
    img = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ids = torch.zeros(2, 77, dtype=torch.int64)
    ids[:, :5] = torch.tensor([49406, 320, 1125, 539, 49407])
    mask = (torch.arange(77)[None, :] < 5).to(torch.int64).repeat(2, 1)
    paths = {
        "immich_visual": os.path.join(work, "tiny-clip", "visual", "model.onnx"),
        "immich_text": os.path.join(work, "tiny-clip", "textual", "model.onnx"),
        "hf_visual": os.path.join(work, "tiny-clip-hf", "onnx", "vision_model.onnx"),
        "hf_text": os.path.join(work, "tiny-clip-hf", "onnx", "text_model.onnx"),
    }
    _export(visual, (img,), paths["immich_visual"], ["image"], ["embedding"],
            {"image": {0: "batch_size"}, "embedding": {0: "batch_size"}})
    _export(text32, (ids.to(torch.int32),), paths["immich_text"], ["text"], ["embedding"],
            {"text": {0: "batch_size"}, "embedding": {0: "batch_size"}})
    _export(visual, (img[:1],), paths["hf_visual"], ["pixel_values"], ["image_embeds"], None)
    _export(texthf, (ids, mask), paths["hf_text"], ["input_ids", "attention_mask"], ["text_embeds"],
            {"input_ids": {0: "batch_size"}, "attention_mask": {0: "batch_size"}, "text_embeds": {0: "batch_size"}})
    _finish_onnx(paths["immich_visual"], False)
    _finish_onnx(paths["hf_visual"], False)
    _finish_onnx(paths["immich_text"], True)
    _finish_onnx(paths["hf_text"], True)
    return paths


def check_onnx(model, paths):
    import numpy as np
    import onnxruntime as ort
    import open_clip
    import torch

    def sess(p):
        so = ort.SessionOptions()
        so.intra_op_num_threads = 1
        return ort.InferenceSession(p, so, providers=["CPUExecutionProvider"])

    def cos(a, b):
        a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        b = b / np.linalg.norm(b, axis=-1, keepdims=True)
        return (a * b).sum(-1)

    s_iv, s_it, s_hv, s_ht = (sess(paths[k]) for k in ("immich_visual", "immich_text", "hf_visual", "hf_text"))
    for s, ins, outs in [(s_iv, [("image", "tensor(float)", ["batch_size", 3, 224, 224])], [("embedding", ["batch_size", 512])]),
                         (s_it, [("text", "tensor(int32)", ["batch_size", 77])], [("embedding", ["batch_size", 512])]),
                         (s_hv, [("pixel_values", "tensor(float)", [1, 3, 224, 224])], [("image_embeds", [1, 512])]),
                         (s_ht, [("input_ids", "tensor(int64)", ["batch_size", 77]),
                                 ("attention_mask", "tensor(int64)", ["batch_size", 77])], [("text_embeds", ["batch_size", 512])])]:
        got_in = [(i.name, i.type, list(i.shape)) for i in s.get_inputs()]
        got_out = [(o.name, list(o.shape)) for o in s.get_outputs()]
        assert got_in == ins, got_in
        assert got_out == outs, got_out

    proc = processor()
    pics = [common.photo_like(500 + 37 * i, 400 - 23 * i, 2000 + i) for i in range(3)]
    px = np.concatenate([proc(images=p, return_tensors="np").pixel_values for p in pics])
    with torch.no_grad():
        ref = model.visual_projection(model.vision_model(pixel_values=torch.from_numpy(px)).pooler_output).numpy()
    got = s_iv.run(None, {"image": px})[0]
    single = np.concatenate([s_iv.run(None, {"image": px[i:i + 1]})[0] for i in range(3)])
    hf = np.concatenate([s_hv.run(None, {"pixel_values": px[i:i + 1]})[0] for i in range(3)])
    worst = {}
    worst["visual immich batch3 vs torch"] = float(cos(got, ref).min())
    worst["visual immich batch1 vs torch"] = float(cos(single, ref).min())
    worst["visual hf vs immich"] = float(cos(hf, got).min())
    worst["visual immich max abs diff vs torch"] = float(np.abs(got - ref).max())

    caps = ["a photo of a dog", "kids on a beach at sunset", "x " * 100, ""]
    ids = open_clip.tokenize(caps)
    with torch.no_grad():
        tref = model.text_projection(model.text_model(input_ids=ids).pooler_output).numpy()
    t32 = s_it.run(None, {"text": ids.numpy().astype(np.int32)})[0]
    mask = (ids.numpy() != 0).astype(np.int64)
    thf = s_ht.run(None, {"input_ids": ids.numpy().astype(np.int64), "attention_mask": mask})[0]
    # transformers.js style: padded with <|endoftext|> (49407) instead of 0 -> same embedding
    ids_eot_pad = ids.numpy().copy()
    ids_eot_pad[mask == 0] = 49407
    thf2 = s_ht.run(None, {"input_ids": ids_eot_pad, "attention_mask": mask})[0]
    worst["text immich vs torch"] = float(cos(t32, tref).min())
    worst["text hf vs immich"] = float(cos(thf, t32).min())
    worst["text hf (pad=49407) vs immich"] = float(cos(thf2, t32).min())
    worst["text immich max abs diff vs torch"] = float(np.abs(t32 - tref).max())
    print("onnxruntime vs torch:")
    for k, v in worst.items():
        print(f"  {k}: {v:.7f}")
        if "abs" not in k:
            assert v > 0.99999, f"{k}: {v}"


def write_configs(model, tmp):
    from transformers import CLIPImageProcessor, CLIPTokenizerFast

    # immich layout
    os.makedirs(os.path.join(IMMICH, "visual"), exist_ok=True)
    os.makedirs(os.path.join(IMMICH, "textual"), exist_ok=True)
    with open(os.path.join(IMMICH, "visual", "preprocess_cfg.json"), "w") as f:
        json.dump({"size": [224, 224], "mode": "RGB", "mean": CLIP_MEAN, "std": CLIP_STD,
                   "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}, f, indent=2)
        f.write("\n")
    oc = {
        "embed_dim": PROJECTION_DIM,
        "quick_gelu": True,
        "vision_cfg": {"image_size": VISION["image_size"], "layers": VISION["num_hidden_layers"],
                       "width": VISION["hidden_size"], "patch_size": VISION["patch_size"],
                       "head_width": VISION["hidden_size"] // VISION["num_attention_heads"], "mlp_ratio": 4.0},
        "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": TEXT["hidden_size"],
                     "heads": TEXT["num_attention_heads"], "layers": TEXT["num_hidden_layers"]},
    }
    with open(os.path.join(IMMICH, "config.json"), "w") as f:
        json.dump(oc, f, indent=2)
        f.write("\n")
    shutil.copyfile(TOKENIZER, os.path.join(IMMICH, "textual", "tokenizer.json"))

    # Hugging Face layout: config.json / preprocessor_config.json / tokenizer files exactly as
    # save_pretrained writes them (tokenizer.json itself: the compact copy of models/test/tokenizer.json)
    os.makedirs(os.path.join(HF, "onnx"), exist_ok=True)
    hf_tmp = os.path.join(tmp, "hf-checkpoint")
    model.save_pretrained(hf_tmp)  # PyTorch checkpoint: temp dir only, never committed
    shutil.copyfile(os.path.join(hf_tmp, "config.json"), os.path.join(HF, "config.json"))
    ip = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}, resample=3,
                            do_center_crop=True, do_convert_rgb=True, image_mean=CLIP_MEAN, image_std=CLIP_STD)
    ip.save_pretrained(os.path.join(tmp, "proc"))
    shutil.copyfile(os.path.join(tmp, "proc", "preprocessor_config.json"), os.path.join(HF, "preprocessor_config.json"))
    tok = CLIPTokenizerFast(tokenizer_file=TOKENIZER, unk_token="<|endoftext|>", bos_token="<|startoftext|>",
                            eos_token="<|endoftext|>", pad_token="<|endoftext|>", model_max_length=77)
    tok.save_pretrained(os.path.join(tmp, "tok"))
    shutil.copyfile(os.path.join(tmp, "tok", "tokenizer_config.json"), os.path.join(HF, "tokenizer_config.json"))
    shutil.copyfile(TOKENIZER, os.path.join(HF, "tokenizer.json"))

    # the saved checkpoint reloads to the same function
    import torch
    from transformers import CLIPModel

    re = CLIPModel.from_pretrained(hf_tmp).eval()
    sa, sb = model.state_dict(), re.state_dict()
    assert set(sa) == set(sb) and all(torch.equal(sa[k], sb[k]) for k in sa), "HF checkpoint != model weights"
    x = torch.randn(1, 3, 224, 224, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        a = model.visual_projection(model.vision_model(pixel_values=x).pooler_output)
        b = re.visual_projection(re.vision_model(pixel_values=x).pooler_output)
    assert torch.allclose(a, b, rtol=0, atol=1e-5), "HF checkpoint does not reload to the same function"


def main():
    common.seed_everything(SEED)
    common.print_versions("make_test_models.py")
    if not os.path.exists(TOKENIZER):
        raise SystemExit("models/test/tokenizer.json is missing: run models/test/make_tokenizer.py first")
    import torch

    model = build_model()
    n_v = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("vision_model", "visual_")))
    n_t = sum(p.numel() for n, p in model.named_parameters() if n.startswith(("text_model", "text_")))
    print(f"tiny CLIP: vision {VISION['hidden_size']}w x {VISION['num_hidden_layers']}L x {VISION['num_attention_heads']}h "
          f"({n_v} params), text {TEXT['hidden_size']}w x {TEXT['num_hidden_layers']}L x {TEXT['num_attention_heads']}h "
          f"({n_t} params), projection {PROJECTION_DIM}")
    run_checks(model)

    tmp = tempfile.mkdtemp(prefix="glimpse-models-")
    try:
        paths = export_all(model, tmp)
        check_onnx(model, paths)
        for d in (IMMICH, HF):
            if os.path.isdir(d):
                shutil.rmtree(d)
        shutil.copytree(os.path.join(tmp, "tiny-clip"), IMMICH)
        shutil.copytree(os.path.join(tmp, "tiny-clip-hf"), HF)
        write_configs(model, tmp)
    finally:
        shutil.rmtree(tmp)
    common.write_versions_file()
    total = 0
    for d in (IMMICH, HF):
        for root, _dirs, files in os.walk(d):
            for f in sorted(files):
                p = os.path.join(root, f)
                total += os.path.getsize(p)
                print(f"  {os.path.relpath(p, common.REPO)}  {os.path.getsize(p)} bytes")
    print(f"total {total} bytes")
    del torch


if __name__ == "__main__":
    main()
