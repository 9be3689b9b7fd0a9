#!/usr/bin/env bash
# The GPU checks behind the "GPU" rows of docs/RESULTS.md, run from the repository root on a machine with an
# NVIDIA GPU, Vulkan and PyTorch, from binaries built elsewhere by `tools/device/stage_gpu_checks.sh` (into
# artifacts/device/). Three parts, one device call each (a call carries at most 64 MiB and runs at most
# 600 s; each part's timeouts sum to less). Call them back to back: the machine stays warm 30 s. Writes logs
# to $OUT (default /tmp/gpu-out). Each call carries .gl (the Vulkan loader) and the part's archive:
#
#   tools/device/gpu_checks.sh 1   (artifacts/device/part1.tar.xz)
#     GPU-vs-CPU agreement: the fan-in, partition-dropout, sampled-linear (layers and ResampledLinear) and
#     sampled-conv test binaries, whose wgpu cases then run on the GPU; the PyTorch peer of the fan-in op
#     (tools/peers/fan_in_torch.py).
#   tools/device/gpu_checks.sh 2   (artifacts/device/part2.tar.xz)
#     Criterion benches on wgpu, each against the dense Burn layer in the same run: the fan-in op at 128×1024
#     and 1024×4096, the direct sparse convolution, the column sampler, the sampled linear layer (inference
#     and training step) and the path network's step.
#   tools/device/gpu_checks.sh 3   (artifacts/device/part3.tar.xz, artifacts/device/mnist.tar.xz)
#     On wgpu and on flex: issue 21's interface command (resampled_training), LeNet-5 on MNIST one epoch, E5
#     at full size (P = 4096, 16384, 65536 and dense, one epoch, one seed); PyTorch's LeNet-5 on CUDA; an E1
#     subset on wgpu (with --shared-layer-seed, as the H200 run of RESULTS it is compared with).
set -u
PART=${1:-}
case $PART in 1|2|3) ;; *) echo "usage: $0 1|2|3 (the part of the staged checks to run)" >&2; exit 2;; esac
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
mkdir -p $W/data
tar -xJf "artifacts/device/part$PART.tar.xz" -C $W || exit 1
if [ "$PART" = 3 ]; then tar -xJf artifacts/device/mnist.tar.xz -C $W/data || exit 1; fi
export MCNN_DATA=$W/data CARGO_TARGET_DIR=$W/target
cd $W
step() { echo "=== $1"; local t=$SECONDS; shift; timeout "$@"; echo "=== ($((SECONDS - t)) s)" >&2; }
# Criterion, shorter than its defaults: the call's time is short.
QUICK=(--warm-up-time 1 --measurement-time 2)

case $PART in
1)
  # Timeouts sum to 405 s: a call runs at most 600 s.
  step "fan-in GPU vs CPU" 90 ./fan_in_gpu_vs_cpu 2>&1 | tee "$OUT/tests.log" | tail -4
  for t in partition_dropout_layer sampled_linear_layer sampled_linear_resampled sampled_conv_layer; do
    step "$t" 60 ./$t 2>&1 | tee -a "$OUT/tests.log" | tail -3
  done
  step "torch peer" 75 python3 "$ROOT/tools/peers/fan_in_torch.py" 128x1024 1024x4096 2>&1 | tee "$OUT/torch.log"
  ;;
2)
  # Timeouts sum to 480 s.
  step "bench 128x1024" 70 ./fan_in_bench --bench fan_in_wgpu "${QUICK[@]}" 2>&1 | tee "$OUT/bench.log" \
    | grep -E '^\| wgpu'
  MCNN_BENCH_SHAPE=1024x4096 step "bench 1024x4096" 100 ./fan_in_bench --bench fan_in_wgpu_1024x4096 \
    "${QUICK[@]}" 2>&1 | tee -a "$OUT/bench.log" | grep -E '^\| wgpu'
  step "bench sampled conv" 80 ./sampled_conv_bench --bench sampled_conv_wgpu "${QUICK[@]}" 2>&1 \
    | tee -a "$OUT/bench.log" | grep -E '^\| wgpu'
  step "bench column sampler" 60 ./column_sampler_bench --bench column_sampler_wgpu "${QUICK[@]}" 2>&1 \
    | tee -a "$OUT/bench.log" | grep -E '^\|'
  step "bench sampled linear" 100 ./sampled_linear_bench --bench '_wgpu' "${QUICK[@]}" 2>&1 \
    | tee -a "$OUT/bench.log" | grep -E '^\|'
  step "bench path net" 70 ./path_net_bench --bench path_net_wgpu "${QUICK[@]}" 2>&1 \
    | tee -a "$OUT/bench.log" | grep -E '^\| wgpu'
  ;;
3)
  # Timeouts sum to 550 s.
  for backend in wgpu flex; do
    step "resampled training $backend" 60 ./resampled_training --backend $backend --epochs 1 \
      --amounts 0.25,1 2>&1 | tee "$OUT/resampled_$backend.log" | tail -1
    step "LeNet $backend" 50 ./lenet_mnist --backend $backend --epochs 1 --no-save 2>&1 \
      | tee "$OUT/lenet_$backend.log" | tail -2
    step "E5 $backend" 90 ./path_net_mnist --backend $backend --epochs 1 --seeds 1 --generators sobol \
      --paths 4096,16384,65536 --out "$OUT/e5_$backend.jsonl" > "$OUT/e5_$backend.md" 2> "$OUT/e5_$backend.err"
    tail -8 "$OUT/e5_$backend.md"
  done
  step "LeNet PyTorch CUDA" 40 python3 "$ROOT/tools/peers/lenet_mnist_torch.py" --data-dir $W/data/mnist \
    --device cuda 2>&1 | tee "$OUT/lenet_torch_cuda.log" | tail -2
  step "E1 subset" 60 ./partition_dropout_variance --backend wgpu --seeds 10 --values 2,5,9 --shared-layer-seed \
    --train-images 3200 --plot "$OUT/e1_wgpu.svg" > "$OUT/e1.md" 2> "$OUT/e1.err"
  tail -3 "$OUT/e1.err"; head -12 "$OUT/e1.md"
  ;;
esac
