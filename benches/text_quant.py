"""Measures int8 copies of a text tower against the fp32 graph Glimpse runs: how long one
caption takes and how far its embedding moves (prints figures; asserts nothing).

Candidates for the caption's encode, which is most of a text query's time on two cores:
ONNX Runtime's dynamic quantization (int8 weights per output channel, activations quantized
per run: MatMulInteger) and weight-only 8-bit blocks (MatMulNBits, int8 compute). Neither is
used by Glimpse (benches/RESULTS.md says why).

Run (Python with onnxruntime==1.31.1, onnx, tokenizers, numpy):
    python benches/text_quant.py target/bench-models/vitb32-random
The folder is a model folder whose textual/model.seq.onnx is the variable-length copy the
text encoder writes at its first open (run `cargo bench --bench search` with it once).
"""

import logging
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.quantization.matmul_nbits_quantizer import (
    DefaultWeightOnlyQuantConfig,
    MatMulNBitsQuantizer,
)
from tokenizers import Tokenizer

# The search bench's captions (benches/search.rs).
CAPTIONS = [
    "dog asleep on a red sofa",
    "a beach at sunset with people",
    "receipt from a restaurant",
    "snowy mountains under a blue sky",
    "birthday cake with candles",
    "a black cat on a windowsill",
    "screenshot of a chat",
    "my car in the rain at night",
]
RUNS = 160


def session(path):
    # As Glimpse opens a CPU session: two intra-op threads here, no spinning between runs.
    so = ort.SessionOptions()
    so.intra_op_num_threads = 2
    so.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])


def main():
    # The quantizers log every node they visit.
    logging.disable(logging.INFO)
    folder = Path(sys.argv[1])
    graph = folder / "textual" / "model.seq.onnx"
    tok = Tokenizer.from_file(str(folder / "textual" / "tokenizer.json"))
    ref = session(graph)
    name = ref.get_inputs()[0].name
    dtype = np.int32 if ref.get_inputs()[0].type == "tensor(int32)" else np.int64
    ids = [np.array([tok.encode(c).ids], dtype=dtype) for c in CAPTIONS]
    print("tokens a caption:", [x.shape[1] for x in ids])
    want = [ref.run(None, {name: x})[0][0] for x in ids]
    # A read of 64 MB between runs, as the sketch scan of a million photos does between two
    # captions: what stays cached of the weights from one run to the next.
    evict = np.ones(64 * 1024 * 1024 // 8)
    with tempfile.TemporaryDirectory() as tmp:
        dynamic = Path(tmp) / "dynamic.onnx"
        quantize_dynamic(str(graph), str(dynamic), weight_type=QuantType.QInt8, per_channel=True,
                         op_types_to_quantize=["MatMul"])
        blocks = Path(tmp) / "nbits8.onnx"
        q = MatMulNBitsQuantizer(onnx.load(str(graph)), algo_config=DefaultWeightOnlyQuantConfig(
            block_size=32, is_symmetric=True, accuracy_level=4, bits=8))
        q.process()
        q.model.save_model_to_file(str(blocks), use_external_data_format=False)
        for label, path in [("fp32", graph), ("int8 dynamic", dynamic), ("int8 weight-only", blocks)]:
            s = session(path)
            got = [s.run(None, {name: x})[0][0] for x in ids]
            cos = min(float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) for a, b in zip(want, got))
            for mode in ("back to back", "64 MB read between"):
                times = []
                for i in range(RUNS):
                    if mode != "back to back":
                        evict.sum()
                    t = time.perf_counter()
                    s.run(None, {name: ids[i % len(ids)]})
                    times.append((time.perf_counter() - t) * 1000)
                times.sort()
                print(f"{label:17s} {mode:19s} p50 {times[RUNS // 2]:6.2f} ms  "
                      f"p99 {times[int(RUNS * 0.99)]:6.2f} ms  min cosine to fp32 {cos:.6f}", flush=True)


if __name__ == "__main__":
    main()
