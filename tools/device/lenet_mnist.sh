#!/usr/bin/env bash
# LeNet-5 on MNIST, one epoch, on the borrowed GPU machine (no Rust toolchain, no network):
# mcnn on wgpu (if a Vulkan adapter is there) and flex, PyTorch on CUDA and CPU; results
# (JSON lines) go to $OUT. Prepare here, then run with the device tool, carrying
# artifacts/device:
#   cargo build --release --example lenet_mnist --features flex,ndarray,wgpu
#   mkdir -p artifacts/device/data/mnist
#   strip -o artifacts/device/lenet_mnist target/release/examples/lenet_mnist
#   gzip artifacts/device/lenet_mnist                     # carry limit: 64 MiB in all
#   for f in data/mnist/*; do gzip -c $f > artifacts/device/data/mnist/$(basename $f).gz; done
#   bash tools/device/lenet_mnist.sh                      # on the device
set -u
cd "$(dirname "$0")/../.."
D=artifacts/device
export MCNN_DATA=$D/data
export XDG_RUNTIME_DIR=/tmp/xdg; mkdir -p -m 700 $XDG_RUNTIME_DIR
{ nvidia-smi -L; nproc; ls /usr/share/vulkan/icd.d /etc/vulkan/icd.d 2>&1; python3 -c "import torch; print(torch.__version__)"; } > $OUT/env.txt 2>&1
gunzip -k -f $D/lenet_mnist.gz; chmod +x $D/lenet_mnist
timeout 200 $D/lenet_mnist --backend wgpu --epochs 1 --no-save > $OUT/mcnn_wgpu.json 2> $OUT/mcnn_wgpu.err
echo "wgpu rc=$?" >> $OUT/env.txt
timeout 120 python3 tools/peers/lenet_mnist_torch.py --data-dir $D/data/mnist --device cuda > $OUT/torch_cuda.json 2> $OUT/torch_cuda.err
timeout 120 $D/lenet_mnist --backend flex --epochs 1 --no-save > $OUT/mcnn_flex.json 2> $OUT/mcnn_flex.err
echo "flex rc=$?" >> $OUT/env.txt
timeout 120 python3 tools/peers/lenet_mnist_torch.py --data-dir $D/data/mnist --device cpu > $OUT/torch_cpu.json 2> $OUT/torch_cpu.err
tail -c 3000 $OUT/*.err; cat $OUT/env.txt $OUT/*.json
