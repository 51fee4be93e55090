"""BUSI, `lite` preset, fold 0: phase 3 again from the same phase-1 / phase-2 bests with another TransUNet learning rate,
into OUT/p3_lr{LR}/ (phase-1/2 checkpoints and the embedding cache are linked, not copied), then the test-split table.

Usage (after bench/busi_lite.sh): .venv/bin/python bench/busi_lite_p3.py OUT TRANSUNET_LR [EPOCHS]
"""
import json, sys, time
from pathlib import Path
from ultrarefiner.training.phases import evaluate, phase3

out = Path(sys.argv[1]); lr = float(sys.argv[2]); epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 1
root = out/f'p3_lr{lr:g}'; ck = root/'checkpoints'; ck.mkdir(parents=True, exist_ok=True)
for part in ('transunet', 'sam_finetuned', 'cache'):
    if not (ck/part).exists(): (ck/part).symlink_to((out/'checkpoints'/part).resolve())
t0 = time.time()
phase3('BUSI', 0, data_root=str(out/'data'), preset='lite-transunet', epochs=epochs, transunet_lr=lr, ckpt_root=str(ck), runs=str(root/'runs'),
       amp=False, resume=False)
e = evaluate('BUSI', [0], data_root=str(out/'data'), ckpt_root=str(ck), out=str(root/'eval'), verbose=False)
row = dict(name=f'after phase 3 (TransUNet lr {lr:g}, {epochs} epoch(s))', coarse=e['mean']['coarse']['dice']['mean'],
           refined=e['mean']['refined']['dice']['mean'])
json.dump(row, open(root/'row.json', 'w'), indent=1)
print(f"| {row['name']} | {row['coarse']:.4f} | {row['refined']:.4f} | {row['refined'] - row['coarse']:+.4f} |  ({time.time() - t0:.0f} s)")
