"""BUSI, `lite`, fold 0: phase 2 again without a lever (measured box jitter, or the prompt search), into
OUT/phase2_{VARIANT}/ (phase-1 checkpoints linked, not copied; the feature cache is $ULTRAREFINER_CACHE), then the
fold-0 refinement ablation of that run (`training.evaluation.ablation`) — the row to set beside bench/busi_kit.sh's.

Usage (after bench/busi_kit.sh, same OUT and cache): .venv/bin/python bench/busi_phase2_variants.py OUT no_jitter|no_search
"""
import dataclasses, sys, time
from pathlib import Path
from ultrarefiner.config import get_preset
from ultrarefiner.training.phases import phase2
from ultrarefiner.training.evaluation import ablation

out, variant = Path(sys.argv[1]), sys.argv[2]
change = {'no_jitter': dict(measured_jitter=False), 'no_search': dict(prompt_search={})}[variant]
pr = dataclasses.replace(get_preset('lite'), **change)
root = out/f'phase2_{variant}'; ck = root/'checkpoints'; ck.mkdir(parents=True, exist_ok=True)
if not (ck/'transunet').exists(): (ck/'transunet').symlink_to((out/'checkpoints'/'transunet').resolve())
t0 = time.time()
phase2('BUSI', 0, data_root=str(out/'data'), preset=pr, ckpt_root=str(ck), pred_root=str(out/'predictions'), runs=str(root/'runs'))
a = ablation('BUSI', [0], data_root=str(out/'data'), ckpt_root=str(ck), out=str(root/'eval'), tta='flip', verbose=False)
for lever, r in a['tables']['fold 0'].items():
    print(f"| {variant}: {lever} | {r['coarse']['dice']['mean']:.4f} | {r['refined']['dice']['mean']:.4f} | "
          f"{r['refined']['dice']['mean'] - r['coarse']['dice']['mean']:+.4f} |")
print(f"wall time {time.time() - t0:.0f} s")
