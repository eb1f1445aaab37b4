#!/usr/bin/env bash
# The decode benchmark (npm run bench:decode), then the tuner's and the training step's
# (bench:tuning, bench:train) on the GPU machine of the device tool, from the
# package that scripts/device/package.ts made in .cache/device (nothing is installed there:
# no Node, no registry). Run from the repository root:
#
#   device tool: run  command="bash scripts/device/run.sh"  carry=[".cache/device"]  timeout_s=600
#   here (lavapipe, the same command; small token counts):  bash scripts/device/run.sh
#
# With an NVIDIA GPU it uses GPU-sized runs (prompt 64, generate 64, weight-kernel shapes
# calibrated on the 1B) and prints the fraction of the card's peak memory bandwidth reached;
# without one it keeps bench:decode's CPU defaults. Extra arguments go to bench:decode
# (e.g. --models stories,q1b-q4k or --skip-7b). Logs and JSON go to $OUT when set.
set -euo pipefail
cd "$(dirname "$0")/../.."
PKG=${PXI_DEVICE_PKG:-.cache/device}
WORK=${PXI_DEVICE_WORK:-/tmp/pxi-device}
OUTDIR=${OUT:-$WORK/out}
mkdir -p "$WORK" "$OUTDIR"
exec > >(tee "$OUTDIR/run.log") 2>&1
t0=$(date +%s)
say() { echo "[run.sh +$(( $(date +%s) - t0 ))s] $*"; }

[ -f "$PKG/app.tar.xz" ] || { echo "no package in $PKG: run 'npx tsx scripts/device/package.ts' here and carry .cache/device"; exit 2; }
[ -d shaders ] || { echo "shaders/ is missing: run from the repository root"; exit 2; }

# Unpack node + the bundle once (xz may be missing: Python's lzma can read it).
if [ ! -x "$WORK/app/node" ] || [ "$PKG/app.tar.xz" -nt "$WORK/app/node" ]; then
  say "unpacking $PKG/app.tar.xz into $WORK"
  rm -rf "$WORK/app" "$WORK/package.json"
  if command -v xz >/dev/null; then
    tar -xJf "$PKG/app.tar.xz" -C "$WORK"
  else
    python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$PKG/app.tar.xz" "$WORK"
  fi
  touch "$WORK/app/node"
fi
NODE="$WORK/app/node"
"$NODE" --version >/dev/null || { echo "the packaged node does not run here"; exit 1; }

# The Vulkan loader (device README): only where the image has none; never on a machine that has one.
if ! ldconfig -p | grep -q 'libvulkan\.so\.1'; then
  say "no libvulkan.so.1: unpacking the loader packages from $PKG/gl"
  for f in "$PKG"/gl/*.deb; do dpkg -x "$f" /; done
  ldconfig
fi
GPU_NAME=""
if command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.memory,clocks.max.sm --format=csv | tee "$OUTDIR/gpu.csv"
  GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader | head -1)
  # The NVIDIA ICD, where the image keeps it outside the loader's search path.
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ] && ! ls /usr/share/vulkan/icd.d/nvidia* /etc/vulkan/icd.d/nvidia* >/dev/null 2>&1; then
    export VK_DRIVER_FILES=$icd
    export __EGL_VENDOR_LIBRARY_FILENAMES=/usr/local/nvidia/share/glvnd/egl_vendor.d/10_nvidia.json
  fi
fi
export XDG_RUNTIME_DIR=${XDG_RUNTIME_DIR:-$WORK/xdg}
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"
export PXI_SHADERS_DIR=$PWD/shaders
export PXI_STORIES=$PWD/$PKG/stories260K.gguf

args=(--cache "$WORK/models" --json "$OUTDIR/decode-bench.json")
if [ -n "$GPU_NAME" ]; then
  # A real GPU: enough tokens to time, and the weight-kernel shape that decodes fastest there.
  args+=(-p 64 -n 64 --gpu-name "$GPU_NAME" --tunings 64x1,64x8,128x16,128x32,256x32,256x64)
fi
# On a GPU, the kernel tuner's measure of itself gets the last part of the time (bench:tuning:
# default against tuned decode shapes on the 1B models bench:decode generated); PXI_DEVICE_TUNING=1
# runs it on a CPU adapter too.
tune_budget=0
if [ -n "$GPU_NAME" ] || [ "${PXI_DEVICE_TUNING:-0}" = 1 ]; then tune_budget=${PXI_DEVICE_TUNING_TIMEOUT:-150}; fi
# Then the training step (bench:train, f32 and mixed where the GPU has shader-f16; no PyTorch on
# that machine) gets its own slice; PXI_DEVICE_TRAIN=1 runs it on a CPU adapter too.
train_budget=0
if [ -n "$GPU_NAME" ] || [ "${PXI_DEVICE_TRAIN:-0}" = 1 ]; then train_budget=${PXI_DEVICE_TRAIN_TIMEOUT:-90}; fi
# The adapter's ceilings (bench:ceiling: the rate kernels that only read the bytes reach, beside
# the weight kernels on the same matrix, and what a dispatch costs) on a GPU, or with
# PXI_DEVICE_CEILING=1.
ceiling_budget=0
if [ -n "$GPU_NAME" ] || [ "${PXI_DEVICE_CEILING:-0}" = 1 ]; then ceiling_budget=${PXI_DEVICE_CEILING_TIMEOUT:-45}; fi
say "node $("$NODE" --version); bench:decode ${args[*]} $*"
set +e
timeout "$(( ${PXI_DEVICE_TIMEOUT:-570} - tune_budget - train_budget - ceiling_budget ))" "$NODE" "$WORK/app/decode-bench.mjs" "${args[@]}" "$@"
rc=$?
if [ "$ceiling_budget" -gt 0 ]; then
  say "bench:ceiling (budget ${ceiling_budget}s)"
  timeout "$ceiling_budget" "$NODE" "$WORK/app/adapter-ceiling.mjs" --rows 16384 --rounds 5 --model "$PXI_STORIES" | tee "$OUTDIR/adapter-ceiling.log"
  say "bench:ceiling exit ${PIPESTATUS[0]}"
fi
if [ "$tune_budget" -gt 0 ]; then
  say "bench:tuning (budget ${tune_budget}s)"
  timeout "$tune_budget" "$NODE" "$WORK/app/tuning-bench.mjs" --cache "$WORK/models" -n 16 | tee "$OUTDIR/tuning-bench.log"
  trc=${PIPESTATUS[0]}
  say "bench:tuning exit $trc"
fi
if [ "$train_budget" -gt 0 ]; then
  say "bench:train (budget ${train_budget}s)"
  timeout "$train_budget" "$NODE" "$WORK/app/train-bench.mjs" --steps 5 --no-torch | tee "$OUTDIR/train-bench.log"
  say "bench:train exit ${PIPESTATUS[0]}"
fi
set -e
say "done, exit $rc (log and JSON in $OUTDIR)"
exit $rc
