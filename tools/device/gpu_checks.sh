#!/usr/bin/env bash
# The GPU checks behind the "GPU" rows of docs/RESULTS.md, run from the repository root on a
# machine with an NVIDIA GPU, Vulkan and PyTorch, from binaries built elsewhere by
# `tools/device/stage_gpu_checks.sh` (into artifacts/device/). Writes logs to $OUT (default /tmp/gpu-out).
#   1. GPU-vs-CPU agreement: the fan-in and partition-dropout test binaries (built with
#      --features wgpu), whose wgpu cases then run on the GPU;
#   2. fan-in vs burn::nn::Linear on wgpu at 128×1024 and 1024×4096, and the direct sparse
#      convolution (SampledConv2d) vs burn::nn::conv::Conv2d (criterion);
#   3. the PyTorch peer (tools/peers/fan_in_torch.py) at the same shapes;
#   4. E1 on wgpu, a subset of settings (t, P ∈ {2, 5, 9}).
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
ROOT=$(pwd)
# Vulkan loader, where the machine lacks one (see the device notes): .gl holds its .debs.
if ls .gl/*.deb >/dev/null 2>&1; then for f in .gl/*.deb; do dpkg -x "$f" /; done; ldconfig; fi
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv | tee "$OUT/gpu.txt"
icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
if [ -f "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd; fi
echo "libvulkan: $(ldconfig -p | grep -c libvulkan) VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"
# Fail rather than fall back to a CPU adapter.
export CUBECL_WGPU_DEFAULT_DEVICE='DiscreteGpu(0)'
W=/tmp/mcnn-gpu
mkdir -p $W && tar -xJf artifacts/device/bins.tar.xz -C $W && tar -xJf artifacts/device/mnist.tar.xz -C $W || exit 1
export MCNN_DATA=$W/data CARGO_TARGET_DIR=$W/target
cd $W
step() { echo "=== $1"; local t=$SECONDS; shift; timeout "$@"; echo "=== ($((SECONDS - t)) s)" >&2; }
step "fan-in GPU vs CPU" 120 ./fan_in_gpu_vs_cpu 2>&1 | tee "$OUT/tests.log" | tail -4
step "partition-dropout layer" 120 ./partition_dropout_layer 2>&1 | tee -a "$OUT/tests.log" | tail -3
step "sampled-linear layer" 120 ./sampled_linear_layer 2>&1 | tee -a "$OUT/tests.log" | tail -3
step "sampled-conv layer" 120 ./sampled_conv_layer 2>&1 | tee -a "$OUT/tests.log" | tail -3
step "bench 128x1024" 150 ./fan_in_bench --bench fan_in_wgpu 2>&1 | tee "$OUT/bench.log" | grep -E '^\| wgpu'
MCNN_BENCH_SHAPE=1024x4096 step "bench 1024x4096" 150 ./fan_in_bench --bench fan_in_wgpu_1024x4096 2>&1 \
  | tee -a "$OUT/bench.log" | grep -E '^\| wgpu'
step "bench sampled conv" 150 ./sampled_conv_bench --bench sampled_conv_wgpu 2>&1 \
  | tee -a "$OUT/bench.log" | grep -E '^\| wgpu'
step "torch peer" 120 python3 "$ROOT/tools/peers/fan_in_torch.py" 128x1024 1024x4096 2>&1 | tee "$OUT/torch.log"
step "E1 subset" 200 ./partition_dropout_variance --backend wgpu --seeds 10 --values 2,5,9 \
  --train-images 3200 --plot "$OUT/e1_wgpu.svg" > "$OUT/e1.md" 2> "$OUT/e1.err" &
sleep 20; nvidia-smi --query-compute-apps=pid,process_name,used_memory --format=csv | tee "$OUT/apps.txt"
wait
tail -3 "$OUT/e1.err"; cat "$OUT/e1.md" | head -12
