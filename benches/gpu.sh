#!/usr/bin/env bash
# GPU indexing benchmark: one prepared run on a lent GPU machine (no network there, nothing is
# built there). Prints images/s end to end on 12 MP and ~0.3 MP JPEGs beside the decode-only
# ceiling of the same machine, GPU utilisation while indexing, fp16-vs-fp32 parity and text
# query latency on the GPU, and graph insertion rates.
#
#   benches/gpu.sh pack        here: release binaries, a random ViT-B/32 exported as the immich
#                            zoo exports it, stripped to its shapes (regenerated there,
#                            seeded), and onnxruntime-gpu 1.31.1's libraries
#                            (CUDA 13) with the device code of other GPU generations zeroed
#                            (GLIMPSE_GPU_SM, default 90: H100/H200), xz-compressed and cut into
#                            parts under 17 MB in target/gpu-kit/partN/
#   benches/gpu.sh stash       there: move the carried parts out of the checkout into $KIT
#   benches/gpu.sh run [cpu]   there: unpack, generate photos, measure; `cpu` is a small dry run
#                            on this machine's CPU that checks the script end to end
#
# Why parts: the device tool sends the checkout (~48 MB) plus the carried paths, 64 MiB in all,
# so the kit (~65 MB) travels one part per call while the machine stays warm, e.g.
#   run(carry=[target/gpu-kit/part0], "bash benches/gpu.sh stash")  ... one call per part ...
#   run(carry=[target/gpu-kit/partN], "bash benches/gpu.sh stash && bash benches/gpu.sh run")
# The whole run fits in 8 minutes on an H200 with 16 cores (counts below).
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
KIT=${GLIMPSE_GPU_KIT:-/tmp/glimpse-gpu}
OUTDIR=$ROOT/target/gpu-kit
SM=${GLIMPSE_GPU_SM:-90}
PART_MB=${GLIMPSE_GPU_PART_MB:-17}
ORT_VERSION=1.31.1

pack() {
  local py=${GLIMPSE_BENCH_PYTHON:-python3}
  cd "$ROOT"
  cargo build --release --locked --bin glimpse
  cargo bench --locked --bench gpu --no-run
  local bench
  bench=$(ls -t target/release/deps/gpu-* | grep -v '\.d$' | head -1)
  local stage=$ROOT/target/gpu-stage
  rm -rf "$stage" "$OUTDIR"
  mkdir -p "$stage/bin" "$stage/model/visual" "$stage/model/textual" "$stage/ort" "$OUTDIR"
  cp target/release/glimpse "$stage/bin/glimpse"
  cp "$bench" "$stage/bin/glimpse-gpu-bench"
  strip "$stage/bin/glimpse" "$stage/bin/glimpse-gpu-bench"

  # The zoo's form (one picture per run, 77 tokens), so the device measures the batched and
  # variable-length copies that the zoo's models get.
  local src=$ROOT/target/bench-models/vitb32-zoo
  if [ ! -f "$src/visual/model.onnx" ]; then
    "$py" models/test/make_vitb32.py --zoo "$src"
  fi
  "$stage/bin/glimpse-gpu-bench" strip "$src/visual/model.onnx" "$stage/model/visual/model.onnx"
  "$stage/bin/glimpse-gpu-bench" strip "$src/textual/model.onnx" "$stage/model/textual/model.onnx"
  cp "$src/config.json" "$stage/model/"
  cp "$src/visual/preprocess_cfg.json" "$stage/model/visual/"
  cp "$src/textual/tokenizer.json" "$stage/model/textual/"

  local wheels=$ROOT/target/gpu-wheel
  mkdir -p "$wheels"
  if ! ls "$wheels"/onnxruntime_gpu-$ORT_VERSION-*.whl >/dev/null 2>&1; then
    "$py" -m pip download --no-deps --only-binary=:all: --python-version 3.11 \
      --platform manylinux_2_28_x86_64 -d "$wheels" "onnxruntime-gpu==$ORT_VERSION"
  fi
  local whl
  whl=$(ls "$wheels"/onnxruntime_gpu-$ORT_VERSION-*.whl | head -1)
  unzip -o -j -q "$whl" "onnxruntime/capi/libonnxruntime.so.$ORT_VERSION" \
    "onnxruntime/capi/libonnxruntime_providers_cuda.so" \
    "onnxruntime/capi/libonnxruntime_providers_shared.so" -d "$stage/ort"
  python3 "$ROOT/benches/fatbin_prune.py" "$stage/ort/libonnxruntime_providers_cuda.so" "$SM"

  # The commit the binaries were built from: a kit older than the code to measure is rebuilt.
  git -C "$ROOT" describe --always --dirty > "$stage/commit" 2>/dev/null || echo unknown > "$stage/commit"
  cp "$stage/commit" "$OUTDIR/commit.txt"
  tar -C "$stage" -cf - . | xz -9 -T0 > "$OUTDIR/kit.tar.xz"
  (cd "$OUTDIR" && sha256sum kit.tar.xz > kit.sha256 && split -b "${PART_MB}M" -d kit.tar.xz kit.tar.xz.)
  rm "$OUTDIR/kit.tar.xz"
  local i=0
  for p in "$OUTDIR"/kit.tar.xz.*; do
    mkdir -p "$OUTDIR/part$i"
    mv "$p" "$OUTDIR/part$i/"
    i=$((i + 1))
  done
  mv "$OUTDIR/kit.sha256" "$OUTDIR/part$((i - 1))/"
  du -sh "$OUTDIR"/part*
  echo "kit: $i parts in $OUTDIR (carry one per call, then 'bash benches/gpu.sh run')"
}

stash() {
  mkdir -p "$KIT/parts"
  local moved=0
  for f in "$OUTDIR"/part*/kit.*; do
    [ -e "$f" ] || continue
    mv "$f" "$KIT/parts/"
    moved=$((moved + 1))
  done
  echo "stashed $moved file(s); $KIT/parts now has: $(ls "$KIT/parts" | tr '\n' ' ')"
}

unpack() {
  if [ -x "$KIT/kit/bin/glimpse" ]; then
    return
  fi
  (cd "$KIT/parts" && cat kit.tar.xz.* > ../kit.tar.xz)
  (cd "$KIT" && sha256sum -c parts/kit.sha256)
  mkdir -p "$KIT/kit"
  xz -dc "$KIT/kit.tar.xz" | tar -x -C "$KIT/kit"
  rm "$KIT/kit.tar.xz"
  local b=$KIT/kit/bin/glimpse-gpu-bench
  "$b" inflate "$KIT/kit/model/visual/model.onnx" "$KIT/kit/model/visual/model.onnx"
  "$b" inflate "$KIT/kit/model/textual/model.onnx" "$KIT/kit/model/textual/model.onnx"
}

# Seconds since the epoch, with fractions.
now() { date +%s.%N; }

# Mean and max of the GPU utilisation samples in a file (one integer per line).
util_summary() {
  awk '{ if ($1 ~ /^[0-9]+$/) { s += $1; n++; if ($1 > m) m = $1 } }
       END { if (n) printf "mean %.0f%%, max %d%% over %d samples", s / n, m, n; else print "no samples" }' "$1"
}

# index_run LABEL PHOTOS DEVICE COUNT [glimpse index options...]
index_run() {
  local label=$1 photos=$2 device=$3 count=$4
  shift 4
  local lib=$WORK/lib-$label
  rm -rf "$lib"
  local sampler=""
  if command -v nvidia-smi >/dev/null && [ "$device" = cuda ]; then
    nvidia-smi --query-gpu=utilization.gpu --format=csv,noheader,nounits -lms 100 \
      > "$WORK/util-$label.txt" 2>/dev/null &
    sampler=$!
  fi
  local t0 t1 TIMEFORMAT='%U %S'
  t0=$(now)
  # bash's `time` gives the process's user and system CPU seconds: beside the decoders' own
  # CPU time (in the log) it shows what the encoder, commit and graph threads took.
  { time GLIMPSE_LOG=${GLIMPSE_LOG:-warn,glimpse::encode=info,glimpse::device=info} \
    "$GLIMPSE" --library "$lib" index --device "$device" --model "$MODEL" "$@" "$photos" \
    2> "$WORK/index-$label.log"; } 2> "$WORK/cpu-$label.txt" \
    || { cat "$WORK/index-$label.log"; exit 1; }
  t1=$(now)
  if [ -n "$sampler" ]; then
    kill "$sampler" 2>/dev/null || true
    wait "$sampler" 2>/dev/null || true
  fi
  grep -v '^\s*$' "$WORK/index-$label.log" | sed 's/^/    /'
  awk -v n="$count" -v a="$t0" -v b="$t1" -v l="$label" \
    'BEGIN { printf "  %s: %d photos in %.2f s = %.0f img/s end to end (process start to exit)\n", l, n, b - a, n / (b - a) }'
  awk -v a="$t0" -v b="$t1" -v cores="$(nproc)" \
    '{ printf "  process CPU: %.1f s user + %.1f s system = %.1f cores busy on average of %d\n", $1, $2, ($1 + $2) / (b - a), cores }' \
    "$WORK/cpu-$label.txt"
  if [ -n "$sampler" ]; then
    echo "  GPU utilisation while indexing: $(util_summary "$WORK/util-$label.txt")"
  fi
}

run() {
  local mode=${1:-cuda}
  local n12=${GLIMPSE_GPU_12MP:-600} n03=${GLIMPSE_GPU_03MP:-40000} ninsert=${GLIMPSE_GPU_INSERT:-100000}
  if [ "$mode" = cpu ]; then
    # A dry run of every step on this machine (no kit needed): small counts, CPU provider.
    n12=${GLIMPSE_GPU_12MP:-6} n03=${GLIMPSE_GPU_03MP:-300} ninsert=${GLIMPSE_GPU_INSERT:-3000}
    GLIMPSE=$ROOT/target/release/glimpse
    BENCH=$(ls -t "$ROOT"/target/release/deps/gpu-* | grep -v '\.d$' | head -1)
    WORK=${GLIMPSE_GPU_WORK:-$ROOT/target/gpu-dry-run}
    # A private copy: the fp16 copies are written beside the graphs.
    rm -rf "$WORK/model"
    mkdir -p "$WORK"
    cp -r "${GLIMPSE_BENCH_MODEL:-$ROOT/models/test/tiny-clip}" "$WORK/model"
    MODEL=$WORK/model
    export ORT_DYLIB_PATH=${ORT_DYLIB_PATH:-$ROOT/.cache/onnxruntime/$ORT_VERSION/libonnxruntime.so.$ORT_VERSION}
    DEVICE=cpu
    # What the CPU graphs take; the GPU copy takes the crop's bytes instead.
    FORM=floats
  else
    unpack
    GLIMPSE=$KIT/kit/bin/glimpse
    BENCH=$KIT/kit/bin/glimpse-gpu-bench
    MODEL=$KIT/kit/model
    WORK=${GLIMPSE_GPU_WORK:-$KIT/work}
    export ORT_DYLIB_PATH=$KIT/kit/ort/libonnxruntime.so.$ORT_VERSION
    # CUDA 13 runtime, cuBLAS, cuDNN 9, cuFFT, cuRAND: the machine's Python has them as wheels.
    local nv
    nv=$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null || true)
    if [ -n "$nv" ]; then
      local dirs
      dirs=$(find "$nv/nvidia" -name 'lib*.so*' -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
      export LD_LIBRARY_PATH="${dirs}${LD_LIBRARY_PATH:-}"
    fi
    DEVICE=cuda
    FORM=bytes
  fi
  export GLIMPSE_OFFLINE=1
  mkdir -p "$WORK"
  echo "== machine: $(nproc) cores, $(date -u +%Y-%m-%dT%H:%MZ)"
  if [ "$mode" != cpu ]; then
    echo "== kit built from commit $(cat "$KIT/kit/commit" 2>/dev/null || echo unknown)"
  fi
  if command -v nvidia-smi >/dev/null; then
    nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
  fi
  "$GLIMPSE" runtime --device "$DEVICE" 2>&1 | sed 's/^/  /' || true
  if [ "$DEVICE" = cuda ]; then
    local missing
    missing=$(ldd "$KIT/kit/ort/libonnxruntime_providers_cuda.so" | grep 'not found' || true)
    [ -z "$missing" ] || echo "  CUDA provider is missing libraries: $missing"
  fi

  echo "== photos"
  "$BENCH" photos "$WORK/p12" "$n12" 4000 3000
  "$BENCH" photos "$WORK/p03" "$n03" 640 480
  "$BENCH" photos "$WORK/warm" 64 640 480

  echo "== decode-only ceiling (all cores, no encoder; pictures prepared as the encoder takes them)"
  "$BENCH" decode "$WORK/p12" "$FORM" | sed 's/^/  12 MP /'
  "$BENCH" decode "$WORK/p03" "$FORM" | sed 's/^/  0.3 MP /'
  "$BENCH" split "$WORK/p03" 500 | sed 's/^/  0.3 MP /'

  echo "== first use: fp16 copy of the model, checked against fp32 on the device"
  local t0
  t0=$(now)
  index_run warm "$WORK/warm" "$DEVICE" 64
  awk -v a="$t0" -v b="$(now)" 'BEGIN { printf "  first run incl. fp16 conversion and check: %.1f s\n", b - a }'

  echo "== end-to-end indexing (glimpse index --device $DEVICE)"
  index_run 12mp "$WORK/p12" "$DEVICE" "$n12"
  index_run 03mp "$WORK/p03" "$DEVICE" "$n03"
  # The encoder, commit and graph threads run beside one decoder per core: does leaving them
  # two cores help or cost?
  local fewer=$(( $(nproc) > 4 ? $(nproc) - 2 : 2 ))
  echo "  -- again with $fewer decoding threads instead of $(nproc)"
  index_run 03mp-fewer "$WORK/p03" "$DEVICE" "$n03" --threads "$fewer"
  if [ "$DEVICE" = cuda ]; then
    # CUDA spins while waiting for the device unless told otherwise: compare the encoder
    # thread's CPU seconds and the rate with a sleeping wait.
    echo "  -- again with CUDA's blocking wait (--cuda-wait block)"
    index_run 03mp-block "$WORK/p03" "$DEVICE" "$n03" --cuda-wait block
  fi

  echo "== fp16 vs fp32 on $DEVICE"
  "$BENCH" parity "$MODEL" "$WORK/p03" "$DEVICE" | sed 's/^/  /'

  echo "== text query latency"
  "$BENCH" text "$MODEL" "$DEVICE" 200 | sed 's/^/  /'
  "$BENCH" text "$MODEL" cpu 50 | sed 's/^/  /'

  echo "== graph insertion"
  "$BENCH" insert "$ninsert" | sed 's/^/  /'
}

case "${1:-}" in
  pack) pack ;;
  stash) stash ;;
  run) shift; run "$@" ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
