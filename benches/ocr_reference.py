"""Times the Python reference (RapidOCR 1.4.4, default settings) on the OCR parity set, as
`cargo bench --bench ocr` times the Rust reader: pictures decoded first (Pillow, then RGB → BGR
as RapidOCR's loader does), a warm-up, then GLIMPSE_BENCH_ROUNDS passes (default 3); every
timing is appended to the file GLIMPSE_BENCH_TIMES names, if set (see ocr_compare.py).

    python benches/ocr_reference.py
"""

import os
import time
from pathlib import Path

import numpy as np
from PIL import Image
from rapidocr_onnxruntime import RapidOCR

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    rounds = int(os.environ.get("GLIMPSE_BENCH_ROUNDS", "3"))
    engine = RapidOCR()
    pics = []
    for p in sorted((ROOT / "tests/fixtures/ocr/set").glob("*.jpg")):
        rgb = np.array(Image.open(p).convert("RGB"))
        pics.append((p.name, np.ascontiguousarray(rgb[:, :, ::-1])))
    for _, img in pics[:3]:
        engine(img)
    times = [[] for _ in pics]
    for _ in range(rounds):
        for (name, img), t_pic in zip(pics, times):
            t = time.perf_counter()
            engine(img)
            t_pic.append(time.perf_counter() - t)
    if os.environ.get("GLIMPSE_BENCH_TIMES"):
        with open(os.environ["GLIMPSE_BENCH_TIMES"], "a") as f:
            for (name, _), t_pic in zip(pics, times):
                for s in t_pic:
                    f.write(f"python,{name},{s:.6f}\n")
    print(f"OCR, Python reference, {len(pics)} pictures x {rounds} rounds, CPU:")
    groups = {}
    for blank in (False, True):
        sel = [t for (name, _), t in zip(pics, times) if ("blank" in name) == blank]
        mean = 1000 * sum(sum(t) / len(t) for t in sel) / len(sel)
        best = 1000 * sum(min(t) for t in sel) / len(sel)
        groups[blank] = (len(sel), mean, best)
    (nt, mt, bt), (nb, mb, bb) = groups[False], groups[True]
    print(f"  with text     {nt:>3} pictures  mean {mt:>7.1f} ms  best {bt:>7.1f} ms")
    print(f"  without text  {nb:>3} pictures  mean {mb:>7.1f} ms  best {bb:>7.1f} ms")
    am = (mt * nt + mb * nb) / (nt + nb)
    ab = (bt * nt + bb * nb) / (nt + nb)
    print(f"  all           {nt + nb:>3} pictures  mean {am:>7.1f} ms  best {ab:>7.1f} ms"
          f"  ({1000 / am:.2f} / {1000 / ab:.2f} pictures/s)")


if __name__ == "__main__":
    main()
