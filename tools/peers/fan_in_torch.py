"""The fan-in layer's PyTorch peer, for the GPU comparison in docs/RESULTS.md.

Same shapes as `crates/fan-in/benches/fan_in.rs`: y[b, o] = sum_j w[o, j] * x[b, idx[o, j]] + bias[o],
k distinct inputs per output, against `torch.nn.Linear` of the same shape on the same GPU.
PyTorch has no fan-in op; the two usual ways are timed:
  gather: (x[:, idx] * w).sum(-1), autograd through the gather (holds batch*out*k floats);
  csr:    torch.sparse.mm with a CSR weight (forward only: autograd to CSR values is missing).
Run: python3 tools/peers/fan_in_torch.py BATCHxWIDTH [...]  (default 128x1024 4096x4096). Times are the
median of 50 CUDA-event-timed calls after 10 warm-ups, float32, TF32 off.
"""
import sys

import torch

torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
FAN_INS = [4, 16, 64, 256]


def median_ms(fn, reps=50, warmup=10):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        start.record()
        fn()
        end.record()
        torch.cuda.synchronize()
        times.append(start.elapsed_time(end))
    return sorted(times)[len(times) // 2]


def fwd_bwd(forward, x):
    def run():
        x.grad = None
        forward(x).sum().backward()
    return run


def main():
    shapes = sys.argv[1:] or ["128x1024", "4096x4096"]
    dev = torch.device("cuda")
    print(f"PyTorch {torch.__version__} on {torch.cuda.get_device_name(0)}, float32")
    print("| shape | layer | density | fwd ms | fwd ratio | fwd+bwd ms | fwd+bwd ratio | csr fwd ms |")
    print("|---|---|---|---|---|---|---|---|")
    for shape in shapes:
        batch, width = map(int, shape.split("x"))
        gen = torch.Generator(device=dev).manual_seed(1)
        x = torch.randn(batch, width, device=dev, generator=gen, requires_grad=True)
        dense = torch.nn.Linear(width, width, device=dev)
        with torch.no_grad():
            d_fwd = median_ms(lambda: dense(x))
        d_both = median_ms(fwd_bwd(dense, x))
        print(f"| {shape} | dense | 1 | {d_fwd:.3f} | 1 | {d_both:.3f} | 1 | |")
        for k in FAN_INS:
            idx = torch.rand(width, width, device=dev, generator=gen).argsort(dim=1)[:, :k]
            w = (torch.randn(width, k, device=dev, generator=gen) / k**0.5).requires_grad_()
            bias = torch.zeros(width, device=dev, requires_grad=True)

            def gather(inp):
                return (inp[:, idx] * w).sum(-1) + bias

            with torch.no_grad():
                fwd = median_ms(lambda: gather(x))
                rows = torch.arange(width, device=dev).repeat_interleave(k)
                csr = torch.sparse_coo_tensor(
                    torch.stack([rows, idx.reshape(-1)]), w.detach().reshape(-1), (width, width)
                ).coalesce().to_sparse_csr()
                csr_fwd = median_ms(lambda: torch.sparse.mm(csr, x.t()).t() + bias)
                expect = gather(x)
                got = torch.sparse.mm(csr, x.t()).t() + bias
                assert torch.allclose(expect, got, atol=1e-3), "csr and gather disagree"
            both = median_ms(fwd_bwd(gather, x))
            print(
                f"| {shape} | k={k} | {k / width:.4f} | {fwd:.3f} | {fwd / d_fwd:.3f} "
                f"| {both:.3f} | {both / d_both:.3f} | {csr_fwd:.3f} |"
            )


if __name__ == "__main__":
    main()
