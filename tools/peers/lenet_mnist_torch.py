"""PyTorch peer of `examples/lenet_mnist.rs`: the same LeNet-5, data, normalisation and
optimiser (Adam, lr 1e-3, eps 1e-8, batch 64), one JSON line per run.

    python3 tools/peers/lenet_mnist_torch.py --data-dir data/mnist --device cpu --epochs 1
    python3 tools/peers/lenet_mnist_torch.py --save artifacts/lenet_torch.safetensors

Reads the raw IDX files (or their .gz) from --data-dir; needs only torch and numpy.
`--save` writes the trained `state_dict` as SafeTensors (`.safetensors`, through the
`safetensors` package) or as a PyTorch checkpoint (`.pt`): what
`examples/pretrained_mnist.rs` loads and compresses.
"""

import argparse
import gzip
import json
import os
import time

import numpy as np
import torch
from torch import nn


def read_idx(path):
    opener = gzip.open if not os.path.exists(path) else open
    path = path if os.path.exists(path) else path + ".gz"
    with opener(path, "rb") as f:
        data = f.read()
    rank = data[3]
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(rank)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * rank).reshape(dims)


def load(data_dir, prefix, device):
    images = read_idx(os.path.join(data_dir, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(os.path.join(data_dir, f"{prefix}-labels-idx1-ubyte"))
    x = (torch.from_numpy(images.astype(np.float32) / 255.0) - 0.1307) / 0.3081
    return x.unsqueeze(1).to(device), torch.from_numpy(labels.astype(np.int64)).to(device)


class LeNet5(nn.Module):
    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5), nn.ReLU(), nn.MaxPool2d(2),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Linear(400, 120), nn.ReLU(),
            nn.Linear(120, 84), nn.ReLU(), nn.Linear(84, 10),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def save(model, path):
    """The state_dict, on the CPU and contiguous, in the format of `path`'s extension."""
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    if path.endswith(".safetensors"):
        from safetensors.torch import save_file
        save_file(state, path)
    elif path.endswith((".pt", ".pth")):
        torch.save(state, path)
    else:
        raise SystemExit(f"--save {path}: expected a .safetensors, .pt or .pth file")


def sync(device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--data-dir", default="data/mnist")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--save", help="write the trained state_dict (.safetensors or .pt)")
    args = parser.parse_args()
    if args.save and not args.save.endswith((".safetensors", ".pt", ".pth")):
        parser.error(f"--save {args.save}: expected a .safetensors, .pt or .pth file")
    torch.manual_seed(args.seed)
    train_x, train_y = load(args.data_dir, "train", args.device)
    test_x, test_y = load(args.data_dir, "t10k", args.device)
    model = LeNet5().to(args.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-8)
    loss_fn = nn.CrossEntropyLoss()
    epoch_seconds, accuracies = [], []
    for _ in range(args.epochs):
        model.train()
        order = torch.randperm(len(train_x), device=args.device)
        sync(args.device)
        start = time.perf_counter()
        for i in range(0, len(order), args.batch_size):
            idx = order[i : i + args.batch_size]
            optimizer.zero_grad()
            loss = loss_fn(model(train_x[idx]), train_y[idx])
            loss.backward()
            optimizer.step()
        sync(args.device)
        epoch_seconds.append(time.perf_counter() - start)
        model.eval()
        with torch.no_grad():
            correct = sum(
                (model(test_x[i : i + 1000]).argmax(1) == test_y[i : i + 1000]).sum().item()
                for i in range(0, len(test_x), 1000)
            )
        accuracies.append(correct / len(test_x))
    if args.save:
        save(model, args.save)
    print(json.dumps({
        "saved": args.save,
        "peer": "pytorch", "torch": torch.__version__, "device": args.device,
        "threads": torch.get_num_threads(), "test_accuracy": accuracies[-1],
        "epochs": args.epochs, "epoch_seconds": epoch_seconds, "seed": args.seed,
    }))


if __name__ == "__main__":
    main()
