"""Phase 3 in fp32 vs bf16 autocast on BUSI (`small`, fold 0): wall time and test Dice, for BENCHMARKS.md.

Needs the phase-1/phase-2 checkpoints of `bash bench/busi_small.sh` in bench_runs/busi_small.
Usage (repository root):  .venv/bin/python bench/p3_precision.py fp32 ; .venv/bin/python bench/p3_precision.py bf16
"""
import json
import sys
import time

from ultrarefiner.training.phases import evaluate, phase3

if __name__ == '__main__':
    R, tag = 'bench_runs/busi_small', sys.argv[1]
    if tag not in ('fp32', 'bf16'): sys.exit('usage: p3_precision.py fp32|bf16')
    root = f'{R}/p3_{tag}'
    t = time.perf_counter()
    r = phase3('BUSI', 0, data_root=f'{R}/data', preset='small', epochs=3, ckpt_root=root, runs=root + '/runs', resume=False,
               verbose=False, amp=tag == 'bf16',
               transunet_checkpoint=f'{R}/checkpoints/transunet/BUSI/fold_0/best.pth',
               sam_checkpoint=f'{R}/checkpoints/sam_finetuned/BUSI/fold_0/best.pth')
    dt = time.perf_counter() - t
    precision = json.loads(open(f'{root}/ultra_refiner/BUSI/fold_0/metrics.json').read())['config']['precision']
    s = evaluate('BUSI', folds=[0], data_root=f'{R}/data', preset='small', ckpt_root=root, out=root + '/eval', verbose=False)
    d = s['per_fold']['0']
    print(f"{tag} ({precision}): phase 3, 3 epochs {dt:.0f} s; val best Dice {r['best']['dice']:.4f}; "
          f"test coarse Dice {d['coarse']['dice']['mean']:.4f}, refined Dice {d['refined']['dice']['mean']:.4f}")
