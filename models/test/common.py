"""Shared helpers for the Glimpse test-model and fixture scripts (not part of the product).

Imported by make_tokenizer.py, make_test_models.py and tests/fixtures/make_fixtures.py.
"""
import os
import random
import sys

sys.dont_write_bytecode = True  # keep the repository free of __pycache__

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))

# Packages whose versions matter for the generated files (import name, distribution name).
_PACKAGES = [
    ("torch", "torch"),
    ("transformers", "transformers"),
    ("tokenizers", "tokenizers"),
    ("onnx", "onnx"),
    ("onnxruntime", "onnxruntime"),
    ("open_clip", "open_clip_torch"),
    ("PIL", "pillow"),
    ("ftfy", "ftfy"),
    ("numpy", "numpy"),
    ("png", "pypng"),
    ("regex", "regex"),
]


def versions():
    """Ordered list of (name, version) for python and the packages above."""
    from importlib import metadata

    out = [("python", sys.version.split()[0])]
    for _mod, dist in _PACKAGES:
        try:
            out.append((dist, metadata.version(dist)))
        except metadata.PackageNotFoundError:
            out.append((dist, "not installed"))
    return out


def versions_text():
    return "\n".join(f"{k}=={v}" if k != "python" else f"python {v}" for k, v in versions()) + "\n"


def print_versions(script):
    print(f"[{script}] versions:")
    for k, v in versions():
        print(f"  {k:14s} {v}")


def write_versions_file():
    path = os.path.join(HERE, "VERSIONS.txt")
    with open(path, "w", encoding="utf-8") as f:
        f.write("# Versions used to generate models/test/* and tests/fixtures/* (written by the scripts).\n")
        f.write(versions_text())
        try:
            import PIL.features as pf

            f.write(f"# Pillow's bundled codecs: libjpeg-turbo {pf.version_feature('libjpeg_turbo')}, "
                    f"libwebp {pf.version('webp')}, zlib {pf.version('zlib')}, libtiff {pf.version('libtiff')}\n")
        except Exception:  # noqa: BLE001
            pass
    return path


def seed_everything(seed=0):
    import numpy as np

    random.seed(seed)
    np.random.seed(seed)
    os.environ["PYTHONHASHSEED"] = str(seed)
    try:
        import torch

        torch.manual_seed(seed)
        torch.use_deterministic_algorithms(True)
        torch.set_num_threads(1)
    except ImportError:
        pass


# ---------------------------------------------------------------------------------------------
# Photo-like synthetic pictures: smooth gradient background, soft low-frequency "lighting",
# several coloured shapes (asymmetric, off-centre), slight blur and sensor-like noise.
# ---------------------------------------------------------------------------------------------
def photo_like(width, height, seed, noise=4.0):
    """A deterministic photo-like RGB PIL image; every seed gives a different picture."""
    import numpy as np
    from PIL import Image, ImageDraw, ImageFilter

    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:height, 0:width].astype(np.float64)
    u, v = xx / max(width - 1, 1), yy / max(height - 1, 1)
    # background: two-colour gradient in a random direction
    ang = rng.uniform(0, 2 * np.pi)
    t = (np.cos(ang) * u + np.sin(ang) * v)
    t = (t - t.min()) / max(t.max() - t.min(), 1e-9)
    c0, c1 = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
    img = c0[None, None, :] * (1 - t[..., None]) + c1[None, None, :] * t[..., None]
    # low-frequency lighting: bilinear upsample of a coarse random grid
    g = rng.uniform(0.75, 1.2, (4, 5)).astype(np.float32)
    light = np.asarray(Image.fromarray(g, mode="F").resize((width, height), Image.Resampling.BILINEAR))
    img = img * light[..., None]
    base = Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")
    draw = ImageDraw.Draw(base)
    s = min(width, height)
    n_shapes = int(rng.integers(5, 9))
    for i in range(n_shapes):
        col = tuple(int(c) for c in rng.uniform(0, 255, 3))
        cx, cy = rng.uniform(0.05, 0.95) * width, rng.uniform(0.05, 0.95) * height
        r = rng.uniform(0.06, 0.28) * s
        kind = i % 4 if i < 4 else int(rng.integers(0, 4))
        if kind == 0:
            draw.ellipse([cx - r, cy - 0.6 * r, cx + r, cy + 0.6 * r], fill=col)
        elif kind == 1:
            draw.rectangle([cx - r, cy - 0.4 * r, cx + 0.7 * r, cy + r], fill=col)
        elif kind == 2:  # asymmetric triangle
            draw.polygon([(cx - r, cy + r), (cx + 0.3 * r, cy - r), (cx + r, cy + 0.6 * r)], fill=col)
        else:  # thick line / stripe
            draw.line([(cx - r, cy - r), (cx + r, cy + 0.3 * r)], fill=col, width=max(2, int(r / 4)))
    # an "L"-shaped marker in the upper-left third so rotation / flips always change the picture
    mx, my, ms = int(0.12 * width), int(0.15 * height), max(3, int(0.12 * s))
    draw.rectangle([mx, my, mx + ms // 4, my + ms], fill=(250, 250, 30))
    draw.rectangle([mx, my + ms - ms // 4, mx + ms, my + ms], fill=(250, 250, 30))
    base = base.filter(ImageFilter.GaussianBlur(radius=max(0.6, s / 500)))
    arr = np.asarray(base).astype(np.float64)
    arr += rng.normal(0, noise, arr.shape)
    return Image.fromarray(np.clip(np.rint(arr), 0, 255).astype(np.uint8), "RGB")
