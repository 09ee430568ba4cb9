#!/usr/bin/env python3
"""The Python peer pipeline for the indexing benchmark: what rclip and immich do.

PIL decode (+ EXIF transpose, RGB) → CLIP preprocessing (shortest side to 224 with PIL bicubic,
centre crop, normalise; numpy) → onnxruntime image encoder in batches → L2 normalise. Decoding
uses a process pool over all cores (as immich's workers do) and the encoder runs in the parent,
so the figures are the peer at its best, not a straw man. Prints images/s and the split.

    python benches/peer.py --model models/test/tiny-clip FOLDER [--batch 32] [--workers N]

Needs Pillow, numpy, onnxruntime (versions: models/test/requirements.txt).
"""
import argparse
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

MEAN = np.array([0.48145466, 0.4578275, 0.40821073], dtype=np.float32)
STD = np.array([0.26862954, 0.26130258, 0.27577711], dtype=np.float32)
EXTS = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def preprocess(path: str):
    t0 = time.perf_counter()
    try:
        img = Image.open(path)
        img = ImageOps.exif_transpose(img).convert("RGB")
        w, h = img.size
        s = 224 / min(w, h)
        img = img.resize((max(224, int(w * s)), max(224, int(h * s))), Image.BICUBIC)
        w, h = img.size
        left, top = (w - 224) // 2, (h - 224) // 2
        img = img.crop((left, top, left + 224, top + 224))
        x = (np.asarray(img, dtype=np.float32) / 255.0 - MEAN) / STD
        return path, x.transpose(2, 0, 1), time.perf_counter() - t0, None
    except Exception as e:  # the peer skips bad files too
        return path, None, time.perf_counter() - t0, str(e)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("folder")
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=os.cpu_count())
    args = ap.parse_args()
    import onnxruntime as ort

    files = sorted(str(p) for p in Path(args.folder).rglob("*") if p.suffix.lower() in EXTS)
    sess = ort.InferenceSession(str(Path(args.model) / "visual/model.onnx"),
                                providers=["CPUExecutionProvider"])
    name = sess.get_inputs()[0].name
    start = time.perf_counter()
    decode_cpu = encode_wall = 0.0
    done = failed = 0
    batch = []

    def flush():
        nonlocal encode_wall, done
        if not batch:
            return
        t = time.perf_counter()
        out = sess.run(None, {name: np.stack(batch)})[0]
        out /= np.linalg.norm(out, axis=1, keepdims=True)
        encode_wall += time.perf_counter() - t
        done += len(batch)
        batch.clear()

    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        for path, x, secs, err in pool.map(preprocess, files, chunksize=4):
            decode_cpu += secs
            if err is not None:
                failed += 1
                continue
            batch.append(x)
            if len(batch) == args.batch:
                flush()
        flush()
    wall = time.perf_counter() - start
    print(f"peer (PIL + onnxruntime {ort.__version__}, {args.workers} decode processes, batch {args.batch}): "
          f"{done} images in {wall:.2f} s = {done / wall:.2f} images/s; failed {failed}; "
          f"decode+preprocess CPU {decode_cpu:.2f} s ({decode_cpu / max(done, 1) * 1000:.1f} ms/image), "
          f"encode wall {encode_wall:.2f} s")


if __name__ == "__main__":
    sys.exit(main())
