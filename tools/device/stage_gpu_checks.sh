#!/usr/bin/env bash
# Builds (release, --features wgpu) and packs into artifacts/device/ what tools/device/gpu_checks.sh runs on a
# GPU machine that has no Rust toolchain, in three parts, one device call each: a call carries at most 64 MiB,
# and each binary holds all of Burn's kernels (about 10 MB compressed on 2026-12-03):
#   part1.tar.xz: the test binaries whose wgpu cases check the GPU against the CPU;
#   part2.tar.xz: the fan-in, sampled-conv, column-sampler, sampled-linear and path-network benches;
#   part3.tar.xz: the resampled-training, LeNet, E5 and E1 examples, which also need mnist.tar.xz (MNIST).
# Run from the repository root; MNIST must be in ./data or in $MCNN_DATA (any example fetches it).
set -euo pipefail
T=${CARGO_TARGET_DIR:-target}
DATA=${MCNN_DATA:-data}
# Each archive (part 3 with MNIST), the Vulkan loader's .debs and the repository must stay under 64 MiB.
LIMIT=$((58 * 1024 * 1024))
# Cargo's JSON messages on stdin -> "staged_name path" for each executable of target kind $1: a test as
# crate-folder_target (fan_in_gpu_vs_cpu), a bench as target_bench, an example as its name.
executables() {
  python3 -c '
import json, os, sys
kind = sys.argv[1]
for line in sys.stdin:
    m = json.loads(line)
    if m.get("reason") == "compiler-artifact" and m.get("executable") and m["target"]["kind"] == [kind]:
        name = m["target"]["name"]
        if kind == "test":
            name = os.path.basename(os.path.dirname(m["manifest_path"])) + "_" + name
        elif kind == "bench":
            name += "_bench"
        print(name.replace("-", "_"), m["executable"])
' "$1"
}
# One feature set for every build (the workspace with `wgpu`), so Burn is built once.
tests=$(cargo test --release --workspace --features wgpu --no-run --message-format=json | executables test)
benches=$(cargo bench --workspace --features wgpu --bench fan_in --bench sampled_conv \
  --bench column_sampler --bench sampled_linear --bench path_net --no-run \
  --message-format=json | executables bench)
examples=$(cargo build --release --workspace --features wgpu --example partition_dropout_variance \
  --example resampled_training --example lenet_mnist --example path_net_mnist \
  --message-format=json | executables example)
rm -rf artifacts/device && mkdir -p artifacts/device/part1 artifacts/device/part2 artifacts/device/part3
stage() { # name exe
  case $1 in
    fan_in_gpu_vs_cpu|partition_dropout_layer|sampled_linear_layer|sampled_conv_layer|sampled_linear_resampled)
      cp "$2" "artifacts/device/part1/$1";;
    fan_in_bench|sampled_conv_bench|column_sampler_bench|sampled_linear_bench|path_net_bench)
      cp "$2" "artifacts/device/part2/$1";;
    resampled_training|lenet_mnist|path_net_mnist|partition_dropout_variance)
      cp "$2" "artifacts/device/part3/$1";;
  esac
}
while read -r name exe; do stage "$name" "$exe"; done <<< "$tests
$benches
$examples"
for part in part1 part2 part3; do
  echo "$part: $(ls artifacts/device/$part | tr '\n' ' ')"
  strip artifacts/device/$part/*
  tar -cf - -C artifacts/device/$part . | xz -9 -T2 > artifacts/device/$part.tar.xz
done
tar -cJf artifacts/device/mnist.tar.xz -C "$(dirname "$DATA/mnist")" mnist
ls -la artifacts/device
for part in part1 part2 part3; do
  size=$(stat -c %s artifacts/device/$part.tar.xz)
  [ $part = part3 ] && size=$((size + $(stat -c %s artifacts/device/mnist.tar.xz)))
  if [ "$size" -gt "$LIMIT" ]; then
    echo "artifacts/device/$part.tar.xz (part3 with MNIST) is $size bytes, over $LIMIT: move a binary" >&2
    exit 1
  fi
done
expected=14
staged=$(ls artifacts/device/part1 artifacts/device/part2 artifacts/device/part3 | grep -vc -e : -e '^$')
[ "$staged" -eq "$expected" ] || { echo "staged $staged binaries, expected $expected" >&2; exit 1; }
