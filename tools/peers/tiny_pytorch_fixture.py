"""Writes the tiny PyTorch checkpoint `tests/pretrained.rs` loads: an MLP 4-3-2
(`nn.Sequential(Linear(4, 3), ReLU(), Linear(3, 2))`, seed 0) saved with `torch.save` as a
`state_dict`, and prints its output for the input [1, -2, 3, -4], which the test expects.

    python3 tools/peers/tiny_pytorch_fixture.py tests/fixtures/mlp_4_3_2.pt
"""

import json
import sys

import torch
from torch import nn


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/mlp_4_3_2.pt"
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2))
    torch.save(model.state_dict(), path)
    with torch.no_grad():
        output = model(torch.tensor([[1.0, -2.0, 3.0, -4.0]]))
    print(json.dumps({"saved": path, "output": output[0].tolist()}))


if __name__ == "__main__":
    main()
