"""Forward-pass timings behind the precision and channels_last tables in BENCHMARKS.md.

Usage (repository root, after `make test`):  .venv/bin/python bench/forward_precision.py tiny 8 | small 8 | full 2
Prints TransUNet forward time (and the pipeline's, or at `full` the SAM encoder's on one 1024² image) for
contiguous vs channels_last weights, fp32 vs bf16 autocast on CPU.
"""
import sys
import time

import torch

from ultrarefiner.config import get_preset
from ultrarefiner.models.refiner import build_ultrarefiner


def timed(f, n):
    f()
    s = time.perf_counter()
    for _ in range(n): f()
    return (time.perf_counter() - s) / n


if __name__ == '__main__':
    preset, B = sys.argv[1], int(sys.argv[2])
    n = 2 if preset == 'full' else 3
    torch.manual_seed(0)
    P = get_preset(preset)['img_size']
    m = build_ultrarefiner(preset).eval()
    x = torch.rand(B, 1, P, P)
    with torch.no_grad():
        for cl in (False, True):
            if cl: m.transunet.to(memory_format=torch.channels_last)
            xx = x.contiguous(memory_format=torch.channels_last) if cl else x
            for bf16 in (False, True):
                with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                    tu = timed(lambda: m.transunet(xx), n)
                    extra = '' if preset == 'full' else f", pipeline {timed(lambda: m(xx), n):.4f} s"
                print(f"{preset} batch {B} channels_last={cl} bf16={bf16}: transunet {tu:.4f} s{extra}", flush=True)
        if preset == 'full':
            img = torch.rand(1, 3, 1024, 1024)
            for bf16 in (False, True):
                with torch.autocast('cpu', dtype=torch.bfloat16, enabled=bf16):
                    print(f"full SAM encoder, one image, bf16={bf16}: {timed(lambda: m.refiner.sam.image_encoder(img), 1):.2f} s", flush=True)
