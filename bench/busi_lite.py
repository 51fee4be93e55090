"""BUSI, `lite-transunet` preset (small random-init TransUNet + LiteMedSAM), fold 0: phase-1 coarse, zero-shot LiteMedSAM per prompt subset,
after phase 2, after phase 3 — test-split Dice, all in the preset's 128 px coarse frame, in one run.

Usage (after phase 1 of all folds + OOF, which bench/busi_lite.sh runs first):
    .venv/bin/python bench/busi_lite.py OUT [P2_EPOCHS] [P3_EPOCHS]
"""
import json, sys, time
from pathlib import Path
import torch
from ultrarefiner.data.splits import split_names
from ultrarefiner.data.datasets import TransUNetDataset
from ultrarefiner.checkpoint import fold_dir, load_transunet
from ultrarefiner.training.phases import phase2, phase3
from ultrarefiner.training.evaluation import evaluate, score_pipeline
from ultrarefiner.models.refiner import SAMRefiner, UltraRefiner
from ultrarefiner.models.sam import EmbeddingCache, build_sam

out = Path(sys.argv[1]); p2_epochs = int(sys.argv[2]) if len(sys.argv) > 2 else 4; p3_epochs = int(sys.argv[3]) if len(sys.argv) > 3 else 2
data, ckpt = out/'data', out/'checkpoints'
root = data/'processed'/'BUSI'
t0 = time.time(); rows = []
tds = TransUNetDataset(root, split_names(root, 'test'), 128, sam_type='lite', sam_size=256)
tu = load_transunet('lite-transunet', fold_dir('transunet', 'BUSI', 0, ckpt)/'best.pth')
sam = build_sam('lite')
cache = EmbeddingCache(ckpt/'cache'/'embeddings', sam.image_encoder, dtype=torch.float16)   # the cache phases 2/3 use

def row(name, model):
    c, r, _, _ = score_pipeline(model, tds, "cpu")
    cs, rs = c.summary(), r.summary()
    rows.append(dict(name=name, coarse=cs['dice']['mean'], refined=rs['dice']['mean'], refined_iou=rs['iou']['mean']))
    print(f"{name:45s} coarse {cs['dice']['mean']:.4f}  refined {rs['dice']['mean']:.4f}  ({time.time() - t0:.0f} s)", flush=True)

def gt_box_row():
    "Reference: the ground-truth mask's box as the only prompt (what LiteMedSAM does with a perfect box)."
    from ultrarefiner.metrics import MetricTracker
    ref, t = SAMRefiner(sam, cache=cache, **only(use_box=True, box_mode='hard', multimask=False)).eval(), MetricTracker()
    for b in torch.utils.data.DataLoader(tds, batch_size=8):
        o = ref(b['image_sam'], b['mask'].float(), frame=b['sam_frame'], target_size=128)
        t.update(o['masks'][:, 0] > 0, b['mask'])
    d = t.summary()['dice']['mean']; rows.append(dict(name='zero-shot: ground-truth box (reference)', coarse=1.0, refined=d))
    print(f"ground-truth box: refined {d:.4f} ({time.time() - t0:.0f} s)", flush=True)

only = lambda **kw: dict(dict(use_point=False, use_neg_point=False, use_box=False, use_mask=False), **kw)
L = dict(component='largest', multimask=False)      # LiteMedSAM was trained with one mask output and box prompts only
SUBSETS = {
    'box (hard)':                                   only(use_box=True, box_mode='hard', multimask=False),
    'box (hard, largest component)':                only(use_box=True, box_mode='hard', **L),
    'box (soft, largest component)':                only(use_box=True, box_mode='soft', **L),
    'box (hard, largest), multimask + IoU argmax':  only(use_box=True, box_mode='hard', component='largest', multimask=True),
    'point + box (largest)':                        only(use_point=True, use_box=True, box_mode='hard', **L),
    'box + neg (far) (largest)':                    only(use_neg_point=True, use_box=True, box_mode='hard', neg_mode='far', **L),
    'box + neg (seed) (largest)':                   only(use_neg_point=True, use_box=True, box_mode='hard', neg_mode='seed', **L),
    'box + mask ×10 (largest)':                     only(use_box=True, use_mask=True, box_mode='hard', mask_scale=10.0, **L),
    'box + mask ×3 (largest)':                      only(use_box=True, use_mask=True, box_mode='hard', mask_scale=3.0, **L),
    'box + mask ×1 (largest)':                      only(use_box=True, use_mask=True, box_mode='hard', mask_scale=1.0, **L),
    'all four, neg far, mask ×3 (largest)':         dict(box_mode='hard', neg_mode='far', mask_scale=3.0, **L),
}
if (out/'zero_shot.json').exists() and p2_epochs > 0:         # the zero-shot table of an earlier run of this script
    rows = json.load(open(out/'zero_shot.json')); print(f"zero-shot rows read from {out/'zero_shot.json'}")
else:
    with torch.no_grad():
        gt_box_row()
        for name, kw in SUBSETS.items(): row(f'zero-shot: {name}', UltraRefiner(tu, SAMRefiner(sam, cache=cache, **kw)))
    json.dump(rows, open(out/'zero_shot.json', 'w'), indent=1)
best = max(SUBSETS, key=lambda n: next(r['refined'] for r in rows if r['name'] == f'zero-shot: {n}'))
print(f"best zero-shot prompt subset: {best}", flush=True)
if p2_epochs == 0: sys.exit(0)                    # zero-shot table only
kw = {k: v for k, v in SUBSETS[best].items() if k != 'box_mode'}; box_mode = SUBSETS[best].get('box_mode', 'soft')
phase2('BUSI', 0, data_root=str(data), preset='lite-transunet', epochs=p2_epochs, ckpt_root=str(ckpt), pred_root=str(out/'predictions'),
       runs=str(out/'runs'), amp=False, refiner_kw=dict(kw, box_mode=box_mode))
e2 = evaluate('BUSI', [0], data_root=str(data), preset='lite-transunet', ckpt_root=str(ckpt), out=str(out/'eval_p2'), verbose=False)
rows.append(dict(name='after phase 2', coarse=e2['mean']['coarse']['dice']['mean'], refined=e2['mean']['refined']['dice']['mean']))
print(f"after phase 2: {rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
phase3('BUSI', 0, data_root=str(data), preset='lite-transunet', epochs=p3_epochs, ckpt_root=str(ckpt), runs=str(out/'runs'), amp=False,
       box_mode=box_mode, refiner_kw=kw)
e3 = evaluate('BUSI', [0], data_root=str(data), preset='lite-transunet', ckpt_root=str(ckpt), out=str(out/'eval'), verbose=False)
rows.append(dict(name='after phase 3', coarse=e3['mean']['coarse']['dice']['mean'], refined=e3['mean']['refined']['dice']['mean']))
print(f"after phase 3: {rows[-1]} ({time.time() - t0:.0f} s)", flush=True)
json.dump(rows, open(out/'table.json', 'w'), indent=1)
print('\n| model (fold 0, test split, 129 images) | coarse Dice | refined Dice | Delta |\n|---|---:|---:|---:|')
for r in rows: print(f"| {r['name']} | {r['coarse']:.4f} | {r['refined']:.4f} | {r['refined'] - r['coarse']:+.4f} |")
print(f"bench wall time: {time.time() - t0:.0f} s")
