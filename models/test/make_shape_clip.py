#!/usr/bin/env python3
"""Train and export "shape-clip": a SMALL CLIP that really works, on pictures of coloured shapes.

Unlike tiny-clip (random weights, plumbing only), shape-clip is trained (seeded) so that Glimpse's
search-quality tests have a model whose answers are known:

  * text search: "red circle" ranks the pictures containing a red circle first;
  * zero-shot tagging: labels {circle, square, triangle, star, heart}, each embedded as the mean of
    the 7 CLIP ImageNet templates, softmax(100*cos) per photo picks the shape;
  * similar photos: same colour + same shape embed closest.

Vocabulary: shapes {circle, square, triangle, star, heart} x colours {red, green, blue, yellow,
orange, purple, black, white} (40 classes), on low-saturation backgrounds (plain / gradient / noisy;
never one of the 8 named colours), sometimes (~20%) two shapes in one picture.

Data. Training pictures come from a PIL renderer (ImageDraw polygons, supersampled 1-3x or aliased,
varied geometry: star inner radius 0.35-0.6, several heart Bezier variants, aspect jitter, shading,
blur, noise, JPEG), go through the exact CLIP preprocessing (PIL bicubic shortest side -> 224,
centre crop, normalise) and are stored average-pooled by 4 (the first op of the image graph, so
training on the pooled tensors is exactly training the exported graph). Evaluation uses a
DIFFERENT renderer (numpy analytic coverage rasteriser: half-planes, the implicit heart curve
(x^2+y^2-1)^3 = x^2 y^3, 4x4 supersampling; other colour prototypes and background generators),
saved as PNG or JPEG, pushed through the same preprocessing and the exported ONNX files
(onnxruntime).

Model (towers written here in plain torch, exported with torch.onnx.export(dynamo=False), opset 17):
  visual  image float32 [N,3,224,224] -> AvgPool 4 (56x56) -> 6 conv3x3/4x4 + BatchNorm + ReLU
          (32..128 channels, 7x7 at the end) -> concat(global mean, global max) -> Linear -> [N,512]
  textual text int32 [N,77] (open_clip ids) -> token table 49408x32 (float16 + Cast, as tiny-clip)
          -> Linear 32->64 + position embedding -> 2 pre-LN causal transformer blocks (width 64,
          4 heads, MLP 256, GELU) -> LayerNorm -> pool at argmax(ids) (the EOT) -> Linear -> [N,512]
  Outputs are NOT L2-normalised.

Loss: multi-positive CLIP loss (a caption is a positive for every picture in the batch it correctly
describes: shape-only captions match every picture with that shape, etc.; soft targets spread over
the positives, both directions) + an image-image supervised-contrastive term (same class set ->
positive). Extra canonical captions ("red circle", the templates) are added to every text batch.

calibration.json (written by this script, measured on held-out pictures of the evaluation renderer
through the ONNX files): relevance_floor (text-image cosine that best separates matching from
non-matching (caption, picture) pairs: maximum balanced accuracy) and duplicate_cosine (1st
percentile of copy-pair image-image cosines: resized 50%, JPEG q60, 3% crop) and similar_floor
(image-image cosine that best separates pictures of one class from pictures of different classes).

Time (2-core AMD EPYC development machine, torch.set_num_threads(2), while a Rust build shared the
cores, load average 3-4): data 149 s, training 1200 steps x 128 = 2183 s (0.65 s/step when the cores
were free, i.e. ~13 min unloaded), whole script 2365 s. Held-out results: README.md ("shape-clip").
Versions: models/test/VERSIONS.txt (no new package). Seeded (torch, numpy, random; the training
pictures come from per-index numpy generators, so the 2 render workers do not change them).

Usage: .venv/bin/python models/test/make_shape_clip.py [--calibrate]
(--calibrate: measure calibration.json again for the model already there, without training.)
"""
import sys

sys.dont_write_bytecode = True
import io
import json
import math
import os
import random
import shutil
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import common  # noqa: E402

import numpy as np  # noqa: E402
from PIL import Image, ImageDraw, ImageFilter  # noqa: E402

SEED = 20240611
OUT = os.path.join(common.HERE, "shape-clip")
TOKENIZER = os.path.join(common.HERE, "tokenizer.json")
OPSET = 17
CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073]
CLIP_STD = [0.26862954, 0.26130258, 0.27577711]

SHAPES = ["circle", "square", "triangle", "star", "heart"]
COLOURS = ["red", "green", "blue", "yellow", "orange", "purple", "black", "white"]
CLASSES = [(c, s) for c in COLOURS for s in SHAPES]
TEMPLATES7 = ["itap of a {}.", "a bad photo of the {}.", "a origami {}.", "a photo of the large {}.",
              "a {} in a video game.", "art of the {}.", "a photo of the small {}."]
TEMPLATES8 = TEMPLATES7 + ["a photo of a {}."]

# ---- sizes / schedule -------------------------------------------------------------------------
N_TRAIN = int(os.environ.get("SHAPE_CLIP_N_TRAIN", 20000))
STEPS = int(os.environ.get("SHAPE_CLIP_STEPS", 1200))
BATCH = 128
N_CANON = 64          # extra canonical captions per step
TRAIN_CTX = 32        # text length used in training (causal + EOT pooling: exact for shorter captions)
LR = 2e-3
EVAL_PER_CLASS = 12
EVAL_TWO = 60
THREADS = 2

# colour prototypes (RGB). Training and evaluation use different sets.
TRAIN_COLOURS = {
    "red": [(255, 0, 0), (220, 20, 60), (200, 30, 30), (230, 50, 40), (178, 34, 34), (240, 20, 20)],
    "green": [(0, 128, 0), (0, 200, 0), (34, 139, 34), (50, 205, 50), (0, 255, 0), (40, 170, 80), (20, 110, 40)],
    "blue": [(0, 0, 255), (30, 110, 240), (0, 90, 220), (65, 105, 225), (0, 0, 180), (20, 60, 200), (0, 0, 139)],
    "yellow": [(255, 255, 0), (255, 215, 0), (240, 230, 40), (250, 220, 60), (255, 240, 20)],
    "orange": [(255, 165, 0), (255, 140, 0), (255, 120, 20), (240, 130, 40), (250, 150, 30)],
    "purple": [(128, 0, 128), (148, 0, 211), (160, 32, 240), (120, 50, 170), (138, 43, 226), (110, 40, 140)],
    "black": [(0, 0, 0), (20, 20, 20), (35, 30, 35), (10, 12, 18)],
    "white": [(255, 255, 255), (245, 245, 245), (250, 248, 240), (240, 240, 240)],
}
EVAL_COLOURS = {
    "red": [(230, 25, 35), (255, 0, 0)], "green": [(0, 160, 0), (30, 180, 60)],
    "blue": [(20, 60, 230), (0, 0, 255)], "yellow": [(250, 230, 0), (255, 255, 0)],
    "orange": [(255, 150, 0), (245, 130, 30)], "purple": [(140, 40, 180), (128, 0, 128)],
    "black": [(15, 15, 15), (0, 0, 0)], "white": [(250, 250, 250), (255, 255, 255)],
}


# =============================================================================================
# scenes (shared by both renderers): objects, background, contrast rules
# =============================================================================================
def _hsv_to_rgb(h, s, v):
    import colorsys

    return np.array(colorsys.hsv_to_rgb(h, s, v)) * 255.0


def muted_colour(rng, lo=0.12, hi=0.95):
    """A low-saturation colour (grey or muted pastel): never one of the 8 named colours."""
    if rng.random() < 0.5:
        v = rng.uniform(lo, hi)
        return np.array([v, v, v]) * 255.0 + rng.uniform(-3, 3, 3), "grey"
    v = rng.uniform(max(lo, 0.45), hi)
    s = rng.uniform(0.05, 0.16)
    return _hsv_to_rgb(rng.random(), s, v), "pastel"


def contrasts(shape_rgb, colour, bg_rgb):
    lum = lambda c: float(np.dot(c, [0.299, 0.587, 0.114])) / 255.0  # noqa: E731
    if colour == "white" and lum(bg_rgb) > 0.68:
        return False
    if colour == "black" and lum(bg_rgb) < 0.35:
        return False
    if colour == "yellow" and lum(bg_rgb) > 0.85:
        return False
    return float(np.linalg.norm(np.asarray(shape_rgb, float) - bg_rgb)) > 90.0


def make_scene(rng, protos, two_prob=0.2, forced=None):
    """Picture size, objects [(colour, shape, rgb, cx, cy, diameter, angle, aspect)], background spec."""
    w, h = int(rng.integers(128, 321)), int(rng.integers(128, 321))
    if rng.random() < 0.3:
        w = h = int(rng.integers(128, 321))
    s = min(w, h)
    ox, oy = (w - s) / 2, (h - s) / 2  # the centre square (what the centre crop keeps)
    if forced is not None:
        classes = forced
    elif rng.random() < two_prob:
        a = CLASSES[rng.integers(len(CLASSES))]
        while True:
            b = CLASSES[rng.integers(len(CLASSES))]
            if b[0] != a[0] and b[1] != a[1] or (b != a and rng.random() < 0.3):
                break
        classes = [a, b]
    else:
        classes = [CLASSES[rng.integers(len(CLASSES))]]
    cols = [np.asarray(protos[c][rng.integers(len(protos[c]))], float) for c, _ in classes]
    cols = [np.clip(c + rng.uniform(-12, 12, 3), 0, 255) for c in cols]
    # background: low saturation, contrasting with every shape
    for _ in range(200):
        kind = ["plain", "gradient", "noisy"][rng.integers(3)]
        c0, name = muted_colour(rng)
        c1 = c0 + rng.uniform(-60, 60) if kind == "gradient" else c0
        c1 = np.clip(c1 + rng.uniform(-8, 8, 3), 0, 255)
        if all(contrasts(c, cl[0], c0) and contrasts(c, cl[0], c1) for c, cl in zip(cols, classes)):
            break
    bg = dict(kind=kind, c0=c0, c1=c1, name=name, angle=rng.uniform(0, 2 * np.pi),
              noise=rng.uniform(4, 18), seed=int(rng.integers(1 << 30)))
    objs = []
    for k, ((colour, shape), rgb) in enumerate(zip(classes, cols)):
        for _try in range(100):
            d = rng.uniform(0.15, 0.7) if len(classes) == 1 else rng.uniform(0.15, 0.42)
            r = d * s / 2
            cx = ox + rng.uniform(min(r * 0.9, s / 2), max(s - r * 0.9, s / 2))
            cy = oy + rng.uniform(min(r * 0.9, s / 2), max(s - r * 0.9, s / 2))
            if all(math.hypot(cx - o["cx"], cy - o["cy"]) > 0.9 * (r + o["d"] * s / 2) for o in objs):
                break
        if shape == "heart" and rng.random() < 0.6:
            angle = rng.uniform(-0.45, 0.45)
        else:
            angle = rng.uniform(0, 2 * np.pi)
        objs.append(dict(colour=colour, shape=shape, rgb=rgb, cx=cx, cy=cy, d=d, angle=angle,
                         aspect=rng.uniform(0.88, 1.12)))
    return dict(w=w, h=h, objs=objs, bg=bg)


# =============================================================================================
# training renderer: PIL ImageDraw polygons (supersampled or aliased), Bezier hearts
# =============================================================================================
def _bezier(p0, p1, p2, p3, n=24):
    t = np.linspace(0, 1, n)[:, None]
    return ((1 - t) ** 3) * p0 + 3 * ((1 - t) ** 2) * t * p1 + 3 * (1 - t) * t * t * p2 + t ** 3 * p3


def shape_outline(shape, rng):
    """Polygon (k,2) in unit coordinates (y down), roughly inscribed in the unit circle."""
    if shape == "circle":
        t = np.linspace(0, 2 * np.pi, 72, endpoint=False)
        return np.stack([np.cos(t), np.sin(t)], 1)
    if shape == "square":
        h = rng.uniform(0.68, 0.72)
        return np.array([[-h, -h], [h, -h], [h, h], [-h, h]])
    if shape == "triangle":
        t = -np.pi / 2 + np.arange(3) * 2 * np.pi / 3 + rng.uniform(-0.08, 0.08, 3)
        p = np.stack([np.cos(t), np.sin(t)], 1) * rng.uniform(0.93, 1.0, (3, 1))
        return p + np.array([0, 0.2])  # centre the bounding box
    if shape == "star":
        inner = rng.uniform(0.35, 0.6)
        t = -np.pi / 2 + np.arange(10) * np.pi / 5
        r = np.where(np.arange(10) % 2 == 0, 1.0, inner)
        return np.stack([np.cos(t) * r, np.sin(t) * r], 1)
    # heart: two cubic Beziers (left and right lobes) from the bottom tip to the top notch
    tip = np.array([0, rng.uniform(0.85, 1.0)])
    notch = np.array([0, rng.uniform(-0.55, -0.3)])
    wdt = rng.uniform(0.95, 1.25)
    top = rng.uniform(-1.25, -0.95)
    c1 = np.array([wdt * rng.uniform(0.9, 1.3), rng.uniform(0.0, 0.4)])
    c2 = np.array([wdt * rng.uniform(0.5, 0.8), top])
    right = _bezier(tip, c1, c2 + np.array([0.45, 0]), notch)
    right = np.concatenate([_bezier(tip, c1 * [1, 1] + [0, 0], np.array([wdt * 1.05, top * 0.55]), np.array([wdt * 0.55, top * 0.75])),
                            _bezier(np.array([wdt * 0.55, top * 0.75]), np.array([wdt * 0.25, top * 1.0]),
                                    np.array([0.05, top * 0.8]), notch)]) if rng.random() < 0.5 else right
    left = right[::-1] * [-1, 1]
    p = np.concatenate([right, left[1:]])
    p = p - (p.max(0) + p.min(0)) / 2
    return p / np.abs(p).max() * 0.98


def background_train(w, h, bg, rng):
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    if bg["kind"] == "gradient":
        t = np.cos(bg["angle"]) * xx / w + np.sin(bg["angle"]) * yy / h
        t = (t - t.min()) / max(float(t.max() - t.min()), 1e-6)
        img = bg["c0"][None, None] * (1 - t[..., None]) + bg["c1"][None, None] * t[..., None]
    else:
        img = np.broadcast_to(bg["c0"], (h, w, 3)).astype(np.float32)
    if bg["kind"] == "noisy":
        g = rng.normal(0, 1, (max(2, h // 24), max(2, w // 24))).astype(np.float32)
        low = np.asarray(Image.fromarray(g, "F").resize((w, h), Image.Resampling.BICUBIC))
        img = img + low[..., None] * bg["noise"] * 0.8 + rng.normal(0, bg["noise"] * 0.5, (h, w, 3))
    return img


def render_train(scene, rng):
    w, h = scene["w"], scene["h"]
    img = background_train(w, h, scene["bg"], rng)
    ss = [1, 2, 3][rng.integers(3)]
    for o in scene["objs"]:
        poly = shape_outline(o["shape"], rng)
        poly = poly * [o["aspect"], 1.0]
        ca, sa = math.cos(o["angle"]), math.sin(o["angle"])
        poly = poly @ np.array([[ca, sa], [-sa, ca]])
        r = o["d"] * min(w, h) / 2
        pts = (poly * r + [o["cx"], o["cy"]]) * ss
        mask = Image.new("L", (w * ss, h * ss), 0)
        ImageDraw.Draw(mask).polygon([tuple(p) for p in pts], fill=255)
        if ss > 1:
            mask = mask.resize((w, h), Image.Resampling.BOX)
        a = np.asarray(mask).astype(np.float32)[..., None] / 255.0
        col = o["rgb"][None, None].astype(np.float32)
        if rng.random() < 0.3:  # soft shading across the shape
            yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
            col = col * (1 + rng.uniform(-0.15, 0.15) * (xx / w - 0.5)[..., None] + rng.uniform(-0.15, 0.15) * (yy / h - 0.5)[..., None])
        img = img * (1 - a) + col * a
    im = Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.3:
        im = im.filter(ImageFilter.GaussianBlur(radius=rng.uniform(0.3, 1.2)))
    if rng.random() < 0.3:
        a = np.asarray(im).astype(np.float32) + rng.normal(0, rng.uniform(2, 7), (h, w, 3))
        im = Image.fromarray(np.clip(np.rint(a), 0, 255).astype(np.uint8), "RGB")
    if rng.random() < 0.4:
        im = jpeg(im, int(rng.integers(35, 96)))
    return im


def jpeg(im, quality):
    b = io.BytesIO()
    im.save(b, "JPEG", quality=quality)
    b.seek(0)
    return Image.open(b).convert("RGB")


# =============================================================================================
# evaluation renderer: numpy analytic coverage (4x4 supersampling), implicit heart
# =============================================================================================
def _inside(shape, x, y, star_inner):
    """x, y: unit coordinates (y down). Boolean inside mask."""
    if shape == "circle":
        return x * x + y * y <= 1.0
    if shape == "square":
        return np.maximum(np.abs(x), np.abs(y)) <= 0.7
    if shape == "triangle":  # equilateral, circumradius 1.15, bounding box centred
        yc = y - 0.2875
        ok = np.ones_like(x, bool)
        for k in range(3):
            t = np.pi / 2 + k * 2 * np.pi / 3  # outward normals of the edges (apex up)
            ok &= (np.cos(t) * x + np.sin(t) * yc) <= 0.575
        return ok
    if shape == "star":
        r = np.hypot(x, y)
        th = np.arctan2(y, x) + np.pi / 2  # 0 at the top point
        seg = np.mod(th, 2 * np.pi / 5) - np.pi / 5  # -36..36 degrees from the nearest point
        # edge from the outer point (angle 0, radius 1) to the inner vertex (angle 36 deg, radius ri):
        # inside = on the same side of that edge as the centre
        p0x, p0y = 1.0, 0.0
        p1x, p1y = star_inner * math.cos(math.pi / 5), star_inner * math.sin(math.pi / 5)
        px, py = r * np.cos(np.abs(seg)), r * np.sin(np.abs(seg))
        side = lambda qx, qy: (p1x - p0x) * (qy - p0y) - (p1y - p0y) * (qx - p0x)  # noqa: E731
        return side(px, py) * side(0.0, 0.0) >= 0
    # heart: (X^2 + Y^2 - 1)^3 - X^2 Y^3 <= 0 with X in [-1.14, 1.14], Y in [-1, 1.24] (Y up)
    X, Y = x * 1.2, -(y * 1.2) + 0.12
    return (X * X + Y * Y - 1) ** 3 - X * X * Y ** 3 <= 0


def render_eval(scene, rng, fmt):
    w, h = scene["w"], scene["h"]
    bg = scene["bg"]
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    if bg["kind"] == "gradient":  # radial gradient (the training renderer only does linear ones)
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        t = np.hypot(xx - cx, yy - cy)
        t = t / max(t.max(), 1e-6)
        img = bg["c0"][None, None] * (1 - t[..., None]) + bg["c1"][None, None] * t[..., None]
    else:
        img = np.broadcast_to(bg["c0"], (h, w, 3)).astype(np.float64)
    if bg["kind"] == "noisy":  # sum of random sinusoids + uniform pixel noise
        f = np.zeros((h, w))
        for _ in range(6):
            k = rng.uniform(0.02, 0.15, 2)
            f += np.sin(k[0] * xx + k[1] * yy + rng.uniform(0, 6.3))
        img = img + (f / 3)[..., None] * bg["noise"] + rng.uniform(-bg["noise"], bg["noise"], (h, w, 3)) * 0.6
    sub = (np.arange(4) + 0.5) / 4
    for o in scene["objs"]:
        r = o["d"] * min(w, h) / 2
        x0, x1 = max(0, int(o["cx"] - 1.3 * r)), min(w, int(o["cx"] + 1.3 * r) + 2)
        y0, y1 = max(0, int(o["cy"] - 1.3 * r)), min(h, int(o["cy"] + 1.3 * r) + 2)
        if x1 <= x0 or y1 <= y0:
            continue
        gy, gx = np.mgrid[y0:y1, x0:x1].astype(np.float64)
        X = (gx[..., None, None] + sub[None, None, None, :]) - o["cx"]
        Y = (gy[..., None, None] + sub[None, None, :, None]) - o["cy"]
        ca, sa = math.cos(o["angle"]), math.sin(o["angle"])
        u, v = (ca * X + sa * Y) / r, (-sa * X + ca * Y) / r
        u = u / o["aspect"]
        cov = _inside(o["shape"], u, v, o.get("star_inner", 0.45)).mean(axis=(2, 3))[..., None]
        img[y0:y1, x0:x1] = img[y0:y1, x0:x1] * (1 - cov) + o["rgb"][None, None] * cov
    im = Image.fromarray(np.clip(np.rint(img), 0, 255).astype(np.uint8), "RGB")
    b = io.BytesIO()
    if fmt == "png":
        im.save(b, "PNG")
    else:
        im.save(b, "JPEG", quality=int(rng.integers(75, 96)))
    b.seek(0)
    return Image.open(b).convert("RGB")


def eval_set(seed, per_class=EVAL_PER_CLASS, n_two=EVAL_TWO):
    rng = np.random.default_rng(seed)
    scenes = []
    for k in range(per_class):
        for cl in CLASSES:
            scenes.append(make_scene(rng, EVAL_COLOURS, forced=[cl]))
    for _ in range(n_two):
        scenes.append(make_scene(rng, EVAL_COLOURS, two_prob=1.0))
    pics = []
    for sc in scenes:
        for o in sc["objs"]:
            o["star_inner"] = rng.uniform(0.4, 0.5)
            o["aspect"] = rng.uniform(0.95, 1.05)
        pics.append(render_eval(sc, rng, "png" if rng.random() < 0.6 else "jpeg"))
    return scenes, pics


# =============================================================================================
# CLIP preprocessing (exactly make_test_models.manual_pixels / CLIPImageProcessorPil)
# =============================================================================================
def clip_pixels(img):
    w, h = img.size
    nw, nh = (224, int(224 * h / w)) if w <= h else (int(224 * w / h), 224)
    r = img.convert("RGB").resize((nw, nh), Image.Resampling.BICUBIC)
    left, top = (nw - 224) // 2, (nh - 224) // 2
    a = (np.asarray(r.crop((left, top, left + 224, top + 224))).astype(np.float64) * (1 / 255)).astype(np.float32)
    a = (a - np.array(CLIP_MEAN, np.float32)) / np.array(CLIP_STD, np.float32)
    return a.transpose(2, 0, 1).copy()


def pool4(px):
    c, h, w = px.shape
    return px.reshape(c, h // 4, 4, w // 4, 4).mean(axis=(2, 4))


def _train_item(i):
    rng = np.random.default_rng([SEED, 1, i])
    sc = make_scene(rng, TRAIN_COLOURS)
    im = render_train(sc, rng)
    return pool4(clip_pixels(im)).astype(np.float16), [(o["colour"], o["shape"], o["d"]) for o in sc["objs"]], sc["bg"]["name"]


def train_data(n):
    import multiprocessing as mp

    with mp.get_context("fork").Pool(THREADS) as pool:
        items = pool.map(_train_item, range(n), chunksize=64)
    X = np.stack([it[0] for it in items])
    return X, [it[1] for it in items], [it[2] for it in items]


# =============================================================================================
# captions: text + semantic spec (list of required (colour|None, shape|None))
# =============================================================================================
def _a(word, rng):
    return "an" if word[0] in "aeiou" and rng.random() < 0.5 else "a"


def caption_for(objs, bgname, rng):
    """One random caption describing the picture (objs: [(colour, shape, d)])."""
    if len(objs) == 2 and rng.random() < 0.5:
        (c1, s1, _), (c2, s2, _) = objs if rng.random() < 0.5 else objs[::-1]
        k = rng.integers(5)
        if k == 0:
            return f"a {c1} {s1} and a {c2} {s2}", [(c1, s1), (c2, s2)]
        if k == 1:
            return f"{c1} {s1} and {c2} {s2}", [(c1, s1), (c2, s2)]
        if k == 2:
            return f"a photo of a {c1} {s1} and a {c2} {s2}", [(c1, s1), (c2, s2)]
        if k == 3:
            return f"a {s1} and a {s2}", [(None, s1), (None, s2)]
        return f"a {c1} shape and a {c2} shape", [(c1, None), (c2, None)]
    c, s, d = objs[rng.integers(len(objs))]
    size = "small" if d < 0.35 else "large"
    bgw = {"grey": ["grey", "gray", "plain"], "pastel": ["light", "pale", "plain"]}[bgname][rng.integers(3)]
    k = rng.integers(16)
    cs = f"{c} {s}"
    if k <= 2:
        return cs, [(c, s)]
    if k == 3:
        return f"{_a(c, rng)} {cs}", [(c, s)]
    if k == 4:
        return f"a photo of {_a(c, rng)} {cs}", [(c, s)]
    if k == 5:
        return f"a photo of a {size} {cs} on a {bgw} background", [(c, s)]
    if k == 6:
        return f"{_a(c, rng)} {cs} on a {bgw} background", [(c, s)]
    if k in (7, 8):
        return TEMPLATES8[rng.integers(8)].format(cs), [(c, s)]
    if k in (9, 10):
        return TEMPLATES8[rng.integers(8)].format(s), [(None, s)]
    if k == 11:
        return [f"a {s}", s, f"a picture of a {s}"][rng.integers(3)], [(None, s)]
    if k == 12:
        return [f"{_a(c, rng)} {c} shape", f"something {c}", f"{c} shape", f"{_a(c, rng)} {c} object"][rng.integers(4)], [(c, None)]
    if k == 13:
        return f"a {size} {cs}", [(c, s)]
    if k == 14:
        return f"a {s} that is {c}", [(c, s)]
    return f"a picture of {_a(c, rng)} {cs}", [(c, s)]


def canonical_caption(rng):
    k = rng.random()
    c, s = CLASSES[rng.integers(len(CLASSES))]
    if k < 0.4:
        return f"{c} {s}", [(c, s)]
    if k < 0.75:
        return TEMPLATES7[rng.integers(7)].format(s), [(None, s)]
    if k < 0.95:
        return TEMPLATES8[rng.integers(8)].format(f"{c} {s}"), [(c, s)]
    return f"a {c} shape", [(c, None)]


def matches(spec, objs):
    ok = lambda req: any((req[0] is None or req[0] == o[0]) and (req[1] is None or req[1] == o[1]) for o in objs)  # noqa: E731
    return all(ok(r) for r in spec)


def _req_mask(req):
    return np.array([(req[0] is None or req[0] == c) and (req[1] is None or req[1] == s) for c, s in CLASSES], np.float32)


_REQ_CACHE = {}


def match_matrix(specs, H):
    """[len(specs), len(H)] float 0/1: caption spec satisfied by the pictures (multi-hot classes H)."""
    out = np.ones((len(specs), len(H)), bool)
    for k in range(2):
        R = np.ones((len(specs), len(CLASSES)), np.float32)
        for t, spec in enumerate(specs):
            if k < len(spec):
                key = spec[k]
                if key not in _REQ_CACHE:
                    _REQ_CACHE[key] = _req_mask(key)
                R[t] = _REQ_CACHE[key]
        out &= (R @ H.T) > 0
    return out.astype(np.float32)


_TOK_CACHE = {}


def tokenize(texts, ctx=77):
    import open_clip

    miss = [t for t in set(texts) if t not in _TOK_CACHE]
    if miss:
        for t, ids in zip(miss, open_clip.tokenize(miss)):
            _TOK_CACHE[t] = ids.numpy()
    ids = np.stack([_TOK_CACHE[t] for t in texts])
    assert (ids[:, ctx:] == 0).all(), "caption longer than the training context"
    return ids[:, :ctx]


# =============================================================================================
# model
# =============================================================================================
def build_towers():
    import torch
    from torch import nn
    import torch.nn.functional as F

    def block(i, o, k, s, p):
        return [nn.Conv2d(i, o, k, s, p, bias=False), nn.BatchNorm2d(o), nn.ReLU()]

    class Visual(nn.Module):
        def __init__(self):
            super().__init__()
            self.body = nn.Sequential(*block(3, 32, 4, 2, 1), *block(32, 48, 3, 1, 1), *block(48, 64, 3, 2, 1),
                                      *block(64, 96, 3, 1, 1), *block(96, 128, 3, 2, 1), *block(128, 128, 3, 1, 1))
            self.proj = nn.Linear(256, 512)

        def pooled(self, x):  # x: [N,3,56,56] (the 224 input average-pooled by 4)
            f = self.body(x)
            return self.proj(torch.cat([f.mean(dim=(2, 3)), f.amax(dim=(2, 3))], 1))

        def forward(self, image):
            return self.pooled(F.avg_pool2d(image, 4))

    class Block(nn.Module):
        def __init__(self, w, heads):
            super().__init__()
            self.ln1, self.ln2 = nn.LayerNorm(w), nn.LayerNorm(w)
            self.qkv, self.out = nn.Linear(w, 3 * w), nn.Linear(w, w)
            self.fc1, self.fc2 = nn.Linear(w, 4 * w), nn.Linear(4 * w, w)
            self.heads = heads

        def forward(self, x, mask):
            n, t, w = x.shape
            hd = w // self.heads
            q, k, v = self.qkv(self.ln1(x)).reshape(n, t, 3, self.heads, hd).permute(2, 0, 3, 1, 4)
            att = torch.softmax(q @ k.transpose(-1, -2) * (hd ** -0.5) + mask, dim=-1)
            x = x + self.out((att @ v).transpose(1, 2).reshape(n, t, w))
            return x + self.fc2(F.gelu(self.fc1(self.ln2(x))))

    class Textual(nn.Module):
        def __init__(self, vocab=49408, ctx=77, tw=32, w=64, layers=2, heads=4):
            super().__init__()
            self.tok = nn.Embedding(vocab, tw)
            nn.init.normal_(self.tok.weight, std=0.5)
            self.up = nn.Linear(tw, w)
            self.pos = nn.Parameter(torch.randn(ctx, w) * 0.02)
            self.blocks = nn.ModuleList([Block(w, heads) for _ in range(layers)])
            self.ln = nn.LayerNorm(w)
            self.proj = nn.Linear(w, 512)

        def forward(self, text):
            ids = text.to(torch.int64)
            t = ids.shape[1]
            x = self.up(self.tok(ids)) + self.pos[:t]
            mask = torch.triu(torch.full((t, t), float("-inf")), 1)
            for b in self.blocks:
                x = b(x, mask)
            x = self.ln(x)
            eot = text.to(torch.float32).argmax(dim=-1)  # open_clip pooling: the EOT (largest id)
            x = x[torch.arange(x.shape[0]), eot]
            return self.proj(x)

    return Visual(), Textual()


# =============================================================================================
# training
# =============================================================================================
def train(visual, textual, X, objs, bgs, dev):
    import torch
    import torch.nn.functional as F

    rng = np.random.default_rng([SEED, 2])
    n = len(X)
    Xt = torch.from_numpy(X)
    sig = [tuple(sorted((c, s) for c, s, _ in o)) for o in objs]
    sig_id = {k: i for i, k in enumerate(sorted(set(sig)))}
    sig = torch.tensor([sig_id[k] for k in sig])
    H = np.zeros((n, len(CLASSES)), np.float32)  # multi-hot classes per picture
    for i, o in enumerate(objs):
        for c, s, _ in o:
            H[i, CLASSES.index((c, s))] = 1
    params = list(visual.parameters()) + list(textual.parameters())
    logit_scale = torch.nn.Parameter(torch.tensor(math.log(10.0)))
    decay = [p for p in params if p.ndim >= 2 and p is not textual.tok.weight]
    no_decay = [p for p in params if not (p.ndim >= 2 and p is not textual.tok.weight)] + [logit_scale]
    opt = torch.optim.AdamW([{"params": decay, "weight_decay": 0.05}, {"params": no_decay, "weight_decay": 0.0}], lr=LR)
    warm = 100
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1.0, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1.0, s / STEPS))))
    t0 = time.time()
    order = rng.permutation(n)
    pos = 0
    for step in range(STEPS):
        if pos + BATCH > n:
            order, pos = rng.permutation(n), 0
        idx = order[pos:pos + BATCH]
        pos += BATCH
        x = Xt[idx].float()
        # free augmentations on the pooled tensors: flips and 90 degree rotations
        if rng.random() < 0.5:
            x = x.flip(3)
        x = torch.rot90(x, int(rng.integers(4)), (2, 3))
        caps = [caption_for(objs[i], bgs[i], rng) for i in idx] + [canonical_caption(rng) for _ in range(N_CANON)]
        ids = torch.from_numpy(tokenize([c[0] for c in caps], TRAIN_CTX)).to(torch.int32)
        M = torch.from_numpy(match_matrix([c[1] for c in caps], H[idx]))
        visual.train()
        textual.train()
        ie = F.normalize(visual.pooled(x), dim=-1)
        te = F.normalize(textual(ids), dim=-1)
        scale = logit_scale.exp().clamp(max=100)
        logits = scale * te @ ie.t()  # [T, B]
        has = M.sum(1) > 0
        t2i = -(F.log_softmax(logits[has], 1) * (M[has] / M[has].sum(1, keepdim=True))).sum(1).mean()
        i2t = -(F.log_softmax(logits.t(), 1) * (M.t() / M.t().sum(1, keepdim=True))).sum(1).mean()
        s = sig[idx]
        P = (s[:, None] == s[None, :]).float()
        P.fill_diagonal_(0)
        ii = 10.0 * ie @ ie.t() - torch.eye(len(idx)) * 1e4
        rows = P.sum(1) > 0
        i2i = -(F.log_softmax(ii[rows], 1) * (P[rows] / P[rows].sum(1, keepdim=True))).sum(1).mean()
        loss = t2i + i2t + 0.5 * i2i
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        if step % 100 == 0 or step == STEPS - 1:
            print(f"  step {step:5d}  loss {loss.item():.3f} (t2i {t2i.item():.3f} i2t {i2t.item():.3f} "
                  f"i2i {i2i.item():.3f})  scale {scale.item():.1f}  {time.time() - t0:.0f}s", flush=True)
            if dev is not None and step % 500 == 0 and step > 0:
                m = metrics_torch(visual, textual, *dev)
                print("    dev: " + fmt_metrics(m), flush=True)
    visual.eval()
    textual.eval()
    return time.time() - t0


# =============================================================================================
# metrics
# =============================================================================================
def l2n(a):
    return a / np.linalg.norm(a, axis=-1, keepdims=True)


def metrics(E, scenes, text_fn):
    """E: normalised image embeddings of the evaluation pictures; text_fn(list[str]) -> normalised."""
    objs = [[(o["colour"], o["shape"]) for o in sc["objs"]] for sc in scenes]
    single = np.array([len(o) == 1 for o in objs])
    Q = text_fn([f"{c} {s}" for c, s in CLASSES])
    S = Q @ E.T
    p10 = []
    for qi, (c, s) in enumerate(CLASSES):
        top = np.argsort(-S[qi], kind="stable")[:10]
        p10.append(np.mean([(c, s) in objs[j] for j in top]))
    L = np.stack([l2n(text_fn([t.format(s) for t in TEMPLATES7]).mean(0)) for s in SHAPES])
    pred = np.argmax(E @ L.T, 1)
    tag_single = np.mean([SHAPES[pred[j]] == objs[j][0][1] for j in np.where(single)[0]])
    tag_two = np.mean([any(SHAPES[pred[j]] == o[1] for o in objs[j]) for j in np.where(~single)[0]])
    idx = np.where(single)[0]
    G = E[idx] @ E[idx].T
    np.fill_diagonal(G, -9)
    nn = np.argmax(G, 1)
    nn_rate = np.mean([objs[idx[a]] == objs[idx[b]] for a, b in enumerate(nn)])
    nn_shape = np.mean([objs[idx[a]][0][1] == objs[idx[b]][0][1] for a, b in enumerate(nn)])
    return dict(p10=np.array(p10), tag_single=tag_single, tag_two=tag_two, nn_rate=nn_rate, nn_shape=nn_shape)


def fmt_metrics(m):
    worst = sorted(zip(m["p10"], CLASSES))[:4]
    return (f"p@10 min {m['p10'].min():.2f} mean {m['p10'].mean():.3f} (worst {', '.join(f'{c} {s} {v:.1f}' for v, (c, s) in worst)}); "
            f"tagging {m['tag_single']:.3f} (two-shape pictures {m['tag_two']:.3f}); "
            f"NN same class {m['nn_rate']:.3f} (same shape {m['nn_shape']:.3f})")


def metrics_torch(visual, textual, scenes, pixels):
    import torch

    visual.eval()
    textual.eval()
    with torch.no_grad():
        E = l2n(visual(torch.from_numpy(pixels)).numpy())
        fn = lambda t: l2n(textual(torch.from_numpy(tokenize(t)).to(torch.int32)).numpy())  # noqa: E731
        return metrics(E, scenes, fn)


# =============================================================================================
# export
# =============================================================================================
def export(visual, textual, work):
    import onnx
    import torch
    from onnx import TensorProto, helper, numpy_helper

    vpath = os.path.join(work, "visual", "model.onnx")
    tpath = os.path.join(work, "textual", "model.onnx")
    os.makedirs(os.path.dirname(vpath), exist_ok=True)
    os.makedirs(os.path.dirname(tpath), exist_ok=True)
    img = torch.randn(2, 3, 224, 224, generator=torch.Generator().manual_seed(1))
    ids = torch.from_numpy(tokenize(["a red circle", "a photo of a small blue star on a grey background"])).to(torch.int32)
    torch.onnx.export(visual, (img,), vpath, input_names=["image"], output_names=["embedding"],
                      dynamic_axes={"image": {0: "batch_size"}, "embedding": {0: "batch_size"}},
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    torch.onnx.export(textual, (ids,), tpath, input_names=["text"], output_names=["embedding"],
                      dynamic_axes={"text": {0: "batch_size"}, "embedding": {0: "batch_size"}},
                      opset_version=OPSET, do_constant_folding=True, dynamo=False)
    for path, fp16 in ((vpath, False), (tpath, True)):
        m = onnx.load(path)
        g = m.graph
        if fp16:  # token table as float16 + Cast (the torch weights are already float16 values)
            big = [i for i in g.initializer if list(i.dims) == [49408, 32]]
            assert len(big) == 1
            init = big[0]
            arr = numpy_helper.to_array(init)
            half = arr.astype(np.float16)
            assert np.array_equal(half.astype(np.float32), arr), "token table is not float16-exact"
            init.CopyFrom(numpy_helper.from_array(half, init.name))
            users = [n for n in g.node if init.name in n.input]
            assert len(users) == 1 and users[0].op_type == "Gather", [(n.op_type, n.name) for n in users]
            gather = users[0]
            old = gather.output[0]
            gather.output[0] = old + "_fp16"
            cast = helper.make_node("Cast", [old + "_fp16"], [old], to=TensorProto.FLOAT, name="token_embedding_to_float32")
            g.node.insert(list(g.node).index(gather) + 1, cast)
        for nd in g.node:
            nd.doc_string = ""
        m.doc_string = ""
        onnx.checker.check_model(m, full_check=True)
        onnx.save(m, path)
    return vpath, tpath


def sessions(vpath, tpath):
    import onnxruntime as ort

    so = ort.SessionOptions()
    so.intra_op_num_threads = THREADS
    sv = ort.InferenceSession(vpath, so, providers=["CPUExecutionProvider"])
    st = ort.InferenceSession(tpath, so, providers=["CPUExecutionProvider"])
    assert [(i.name, i.type, list(i.shape)) for i in sv.get_inputs()] == [("image", "tensor(float)", ["batch_size", 3, 224, 224])]
    assert [(o.name, list(o.shape)) for o in sv.get_outputs()] == [("embedding", ["batch_size", 512])]
    assert [(i.name, i.type, list(i.shape)) for i in st.get_inputs()] == [("text", "tensor(int32)", ["batch_size", 77])]
    assert [(o.name, list(o.shape)) for o in st.get_outputs()] == [("embedding", ["batch_size", 512])]
    return sv, st


def run_visual(sv, px, bs=64):
    return np.concatenate([sv.run(None, {"image": px[i:i + bs]})[0] for i in range(0, len(px), bs)])


def run_text(st, texts):
    return st.run(None, {"text": tokenize(texts).astype(np.int32)})[0]


def check_onnx(visual, textual, sv, st, pixels):
    import torch

    with torch.no_grad():
        ref_v = visual(torch.from_numpy(pixels[:16])).numpy()
        caps = ["red circle", "a photo of a small blue star on a grey background", "itap of a heart.",
                "a yellow heart and a green square", "", "x " * 100]
        ref_t = textual(torch.from_numpy(tokenize(caps)).to(torch.int32)).numpy()
    got_v = run_visual(sv, pixels[:16])
    got_1 = np.concatenate([sv.run(None, {"image": pixels[i:i + 1]})[0] for i in range(3)])
    got_t = run_text(st, caps)
    res = {"visual batch16 vs torch": float((l2n(got_v) * l2n(ref_v)).sum(1).min()),
           "visual batch1 vs torch": float((l2n(got_1) * l2n(ref_v[:3])).sum(1).min()),
           "text vs torch": float((l2n(got_t) * l2n(ref_t)).sum(1).min())}
    print("onnxruntime vs torch (min cosine): " + ", ".join(f"{k} {v:.7f}" for k, v in res.items()))
    assert all(v > 0.9999 for v in res.values()), res
    return res


# =============================================================================================
# calibration
# =============================================================================================
def pct(a):
    a = np.asarray(a)
    q = np.percentile(a, [1, 5, 50, 95, 99])
    return dict(n=int(a.size), min=round(float(a.min()), 4), p1=round(float(q[0]), 4), p5=round(float(q[1]), 4),
                median=round(float(q[2]), 4), p95=round(float(q[3]), 4), p99=round(float(q[4]), 4), max=round(float(a.max()), 4))


def fmt_pct(d):
    return f"n={d['n']} min {d['min']} p1 {d['p1']} p5 {d['p5']} median {d['median']} p95 {d['p95']} p99 {d['p99']} max {d['max']}"


def calibrate(sv, st, scenes, pics, E):
    rng = np.random.default_rng([SEED, 7])
    objs = [[(o["colour"], o["shape"]) for o in sc["objs"]] for sc in scenes]
    # relevance floor: "colour shape" queries + shape-only + colour-only captions vs every picture
    caps = [(f"{c} {s}", [(c, s)]) for c, s in CLASSES] + [(f"a {s}", [(None, s)]) for s in SHAPES] + \
           [(f"a {c} shape", [(c, None)]) for c in COLOURS] + \
           [(TEMPLATES8[k % 8].format(f"{c} {s}"), [(c, s)]) for k, (c, s) in enumerate(CLASSES)]
    T = l2n(run_text(st, [c[0] for c in caps]))
    S = T @ E.T
    M = np.array([[matches(spec, o) for o in objs] for _, spec in caps])
    pos, neg = S[M], S[~M]
    cands = np.unique(np.round(S, 4))
    best = max(cands, key=lambda t: (np.mean(pos >= t) + np.mean(neg < t)) / 2)
    floor = float(best)
    bacc = (np.mean(pos >= floor) + np.mean(neg < floor)) / 2
    # duplicates: copies of single-shape held-out pictures vs different pictures of the same class
    idx = [j for j, o in enumerate(objs) if len(o) == 1][::2]
    copies_px, copy_src, kinds = [], [], []
    for j in idx:
        im = pics[j]
        w, h = im.size
        dw, dh = int(round(w * 0.03)), int(round(h * 0.03))
        half = im.resize((max(1, w // 2), max(1, h // 2)), Image.Resampling.BICUBIC)
        for kind, c in (("resized 50%", half), ("JPEG q60", jpeg(im, 60)),
                        ("cropped 3%", im.crop((dw, dh, w - dw, h - dh))),
                        ("all three", jpeg(half, 60).crop((dw // 2, dh // 2, w // 2 - dw // 2, h // 2 - dh // 2)))):
            copies_px.append(clip_pixels(c))
            copy_src.append(j)
            kinds.append(kind)
    C = l2n(run_visual(sv, np.stack(copies_px)))
    copy_cos = (C * E[copy_src]).sum(1)
    single = [j for j, o in enumerate(objs) if len(o) == 1]
    same, diff = [], []
    for a in range(len(single)):
        for b in range(a + 1, len(single)):
            ja, jb = single[a], single[b]
            (same if objs[ja] == objs[jb] else diff).append(float(E[ja] @ E[jb]))
    dup = round(math.floor(float(np.percentile(copy_cos.astype(np.float64), 1)) * 1000) / 1000, 3)
    # similar floor: the image-image cosine that best separates pictures of one class from
    # pictures of different classes ("photos like this one")
    same_a, diff_a = np.array(same), np.array(diff)
    sim_cands = np.unique(np.round(np.concatenate([same_a, diff_a]), 4))
    similar = float(max(sim_cands, key=lambda t: (np.mean(same_a >= t) + np.mean(diff_a < t)) / 2))
    sim_bacc = (np.mean(same_a >= similar) + np.mean(diff_a < similar)) / 2
    res = dict(floor=floor, bacc=bacc, pos=pct(pos), neg=pct(neg), dup=dup, copies=pct(copy_cos),
               similar=similar, sim_bacc=sim_bacc,
               copies_by_kind={k: pct(copy_cos[np.array(kinds) == k]) for k in dict.fromkeys(kinds)},
               same_class=pct(same), diff_class=pct(diff),
               same_above_dup=float(np.mean(np.array(same) >= dup)), diff_above_dup=float(np.mean(np.array(diff) >= dup)))
    return res


def write_calibration(out, cal):
    """Prints the calibration and writes `out`/calibration.json with its method in `notes`."""
    print(f"relevance_floor {cal['floor']:.4f} (balanced accuracy {cal['bacc']:.4f})")
    print(f"  matching pairs     {fmt_pct(cal['pos'])}")
    print(f"  non-matching pairs {fmt_pct(cal['neg'])}")
    print(f"duplicate_cosine {cal['dup']:.3f}")
    print(f"  copy pairs          {fmt_pct(cal['copies'])}")
    for k, v in cal["copies_by_kind"].items():
        print(f"    {k:12s}      {fmt_pct(v)}")
    print(f"  same class, diff pic {fmt_pct(cal['same_class'])}  ({100 * cal['same_above_dup']:.1f}% >= D)")
    print(f"  different class      {fmt_pct(cal['diff_class'])}  ({100 * cal['diff_above_dup']:.2f}% >= D)")
    print(f"similar_floor {cal['similar']:.4f} (balanced accuracy {cal['sim_bacc']:.4f}, same class vs different class)")

    notes = (
        f"Measured by make_shape_clip.py on held-out pictures drawn by a different renderer (numpy coverage "
        f"rasteriser), through the ONNX files. relevance_floor: the text-image cosine that maximises balanced "
        f"accuracy between matching and non-matching (caption, picture) pairs (captions: the 40 'colour shape' "
        f"queries, 5 'a shape', 8 'a colour shape', 40 templated 'colour shape'; balanced accuracy {cal['bacc']:.4f}); "
        f"matching {fmt_pct(cal['pos'])}; non-matching {fmt_pct(cal['neg'])}. duplicate_cosine: 1st percentile "
        f"(floored to 0.001) of copy-pair image-image cosines (resized 50% / JPEG q60 / cropped 3% per edge / all "
        f"three): {fmt_pct(cal['copies'])}; different pictures of the same class (colour+shape): "
        f"{fmt_pct(cal['same_class'])} ({100 * cal['same_above_dup']:.1f}% at or above duplicate_cosine: this model "
        f"ignores position/size/background, so same-class pictures look like copies to it); different classes: "
        f"{fmt_pct(cal['diff_class'])} ({100 * cal['diff_above_dup']:.2f}% at or above). similar_floor: the "
        f"image-image cosine that maximises balanced accuracy between those same-class and different-class pairs "
        f"(balanced accuracy {cal['sim_bacc']:.4f}).")
    with open(os.path.join(out, "calibration.json"), "w") as f:
        json.dump({"relevance_floor": round(cal["floor"], 4), "duplicate_cosine": cal["dup"],
                   "similar_floor": round(cal["similar"], 4), "notes": notes}, f, indent=2)
        f.write("\n")


def recalibrate():
    """Measures the calibration of the model already in models/test/shape-clip (no training):
    the held-out pictures are seeded, so the thresholds measured before must come out the same."""
    common.print_versions("make_shape_clip.py --calibrate")
    with open(os.path.join(OUT, "calibration.json")) as f:
        before = json.load(f)
    test_scenes, test_pics = eval_set([SEED, 4])
    test_px = np.stack([clip_pixels(p) for p in test_pics])
    sv, st = sessions(os.path.join(OUT, "visual", "model.onnx"), os.path.join(OUT, "textual", "model.onnx"))
    E = l2n(run_visual(sv, test_px))
    cal = calibrate(sv, st, test_scenes, test_pics, E)
    for key, name in (("floor", "relevance_floor"), ("dup", "duplicate_cosine")):
        got = round(cal[key], 4) if key == "floor" else cal[key]
        if got != before[name]:
            raise SystemExit(f"{name}: measured {got}, stored {before[name]}: the held-out set or model changed")
    write_calibration(OUT, cal)


# =============================================================================================
def main():
    import torch

    common.seed_everything(SEED)
    torch.set_num_threads(THREADS)
    common.print_versions("make_shape_clip.py")
    if not os.path.exists(TOKENIZER):
        raise SystemExit("models/test/tokenizer.json is missing: run models/test/make_tokenizer.py first")
    t_all = time.time()

    t0 = time.time()
    X, objs, bgs = train_data(N_TRAIN)
    t_data = time.time() - t0
    print(f"training data: {len(X)} pictures ({sum(len(o) == 2 for o in objs)} with two shapes), "
          f"rendered + preprocessed in {t_data:.0f}s", flush=True)
    t0 = time.time()
    dev_scenes, dev_pics = eval_set([SEED, 3], per_class=4, n_two=20)
    dev = (dev_scenes, np.stack([clip_pixels(p) for p in dev_pics]))
    test_scenes, test_pics = eval_set([SEED, 4])
    test_px = np.stack([clip_pixels(p) for p in test_pics])
    print(f"held-out pictures (numpy renderer): dev {len(dev_pics)}, test {len(test_pics)} in {time.time() - t0:.0f}s", flush=True)

    visual, textual = build_towers()
    nv = sum(p.numel() for p in visual.parameters())
    nt = sum(p.numel() for p in textual.parameters())
    print(f"visual {nv} params, textual {nt} params; {STEPS} steps x batch {BATCH}", flush=True)
    t_train = train(visual, textual, X, objs, bgs, dev)
    with torch.no_grad():  # stored as float16 in ONNX
        textual.tok.weight.copy_(textual.tok.weight.half().float())
    print(f"training: {t_train:.0f}s", flush=True)
    m_torch = metrics_torch(visual, textual, test_scenes, test_px)
    print("test (torch): " + fmt_metrics(m_torch), flush=True)

    tmp = tempfile.mkdtemp(prefix="glimpse-shape-clip-")
    try:
        vpath, tpath = export(visual, textual, tmp)
        sv, st = sessions(vpath, tpath)
        parity = check_onnx(visual, textual, sv, st, test_px)
        E = l2n(run_visual(sv, test_px))
        m = metrics(E, test_scenes, lambda t: l2n(run_text(st, t)))
        print("TEST (onnxruntime, held-out numpy renderer): " + fmt_metrics(m))
        cal = calibrate(sv, st, test_scenes, test_pics, E)
        write_calibration(tmp, cal)
        os.makedirs(os.path.join(tmp, "visual"), exist_ok=True)
        with open(os.path.join(tmp, "visual", "preprocess_cfg.json"), "w") as f:
            json.dump({"size": [224, 224], "mode": "RGB", "mean": CLIP_MEAN, "std": CLIP_STD,
                       "interpolation": "bicubic", "resize_mode": "shortest", "fill_color": 0}, f, indent=2)
            f.write("\n")
        ref = os.path.join(common.HERE, "tiny-clip", "visual", "preprocess_cfg.json")
        if os.path.exists(ref):
            with open(ref) as a, open(os.path.join(tmp, "visual", "preprocess_cfg.json")) as b:
                assert a.read() == b.read(), "preprocess_cfg.json differs from tiny-clip's"
        shutil.copyfile(TOKENIZER, os.path.join(tmp, "textual", "tokenizer.json"))
        cfg = {
            "embed_dim": 512,
            "model": "shape-clip: a small CLIP trained on generated pictures of coloured shapes (make_shape_clip.py)",
            "vision_cfg": {"image_size": 224, "type": "cnn",
                           "description": "AvgPool 4 -> conv4x4/2 (32) -> conv3x3 (48) -> conv3x3/2 (64) -> conv3x3 (96) "
                                          "-> conv3x3/2 (128) -> conv3x3 (128), BatchNorm+ReLU each -> concat(global mean, "
                                          "global max) -> Linear 256->512",
                           "layers": 6, "width": 128},
            "text_cfg": {"context_length": 77, "vocab_size": 49408, "token_embedding_width": 32, "width": 64,
                         "heads": 4, "layers": 2, "mlp_ratio": 4.0, "act": "gelu", "causal": True,
                         "pool": "argmax (EOT, as open_clip)"},
        }
        with open(os.path.join(tmp, "config.json"), "w") as f:
            json.dump(cfg, f, indent=2)
            f.write("\n")
        if os.path.isdir(OUT):
            shutil.rmtree(OUT)
        shutil.copytree(tmp, OUT)
    finally:
        shutil.rmtree(tmp)

    total = 0
    for root, _dirs, files in os.walk(OUT):
        for f in sorted(files):
            p = os.path.join(root, f)
            total += os.path.getsize(p)
            print(f"  {os.path.relpath(p, common.REPO)}  {os.path.getsize(p)} bytes")
    print(f"total {total} bytes")
    print(f"SUMMARY: data {t_data:.0f}s, training {t_train:.0f}s, whole script {time.time() - t_all:.0f}s; "
          f"p@10 min {m['p10'].min():.3f} mean {m['p10'].mean():.3f}; tagging {m['tag_single']:.4f}; "
          f"NN same class {m['nn_rate']:.4f}; parity {min(parity.values()):.7f}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--calibrate"]:
        recalibrate()
    elif sys.argv[1:]:
        raise SystemExit("usage: make_shape_clip.py [--calibrate]")
    else:
        main()
