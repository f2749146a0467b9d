"""Import Debian's CPU PyTorch and multiply two matrices: proves the slim
image still carries a working torch (and its BLAS) after strip and prune."""
import sys

import torch


def main() -> int:
    torch.manual_seed(0)
    a = torch.randn(256, 128)
    b = torch.randn(128, 64)
    c = a @ b
    want = torch.einsum("ik,kj->ij", a, b)
    if c.shape != (256, 64) or not torch.allclose(c, want, atol=1e-4):
        print("torch-cpu: matmul mismatch", file=sys.stderr)
        return 1
    print(f"torch-cpu: ok, torch {torch.__version__}, matmul {tuple(c.shape)}, "
          f"sum {c.sum().item():.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
