"""BUSI, never invent: how many test images get an empty (or near-empty) coarse mask from the `lite` fold-0 coarse model,
and the refined Dice with the new rule (an empty coarse mask → an empty refined mask) vs the old behaviour (a whole-frame
box given to SAM), for zero-shot LiteMedSAM and the phase-2 refiner of `bench/busi_shared.py`.

Usage (after bench/busi_shared.sh, whose checkpoints and encoder cache it reuses):
    .venv/bin/python bench/busi_empty.py bench_runs/busi_shared
With a phase-1 TransUNet of the `lite` preset (small TransUNet at 128 px, random init) for fold 0, e.g.
    .venv/bin/ultrarefiner train-transunet --preset lite --datasets BUSI --fold 0 --max_epochs 8 --no-oof \
        --data_root bench_runs/busi_shared/data --output_dir bench_runs/busi_shared/checkpoints
the same rows are added for it (Dice in its 128 px frame, like `evaluate`; SAM embeddings from the same cache).
Writes OUT/empty.json.
"""
import json, os, sys
from pathlib import Path
import numpy as np
import torch
from ultrarefiner.io import load_checkpoint
from ultrarefiner.data.splits import split_names
from ultrarefiner.models.sam import build_sam
from ultrarefiner.models.prompts import coarse_is_empty
from ultrarefiner.models.refiner import SAMRefiner
from ultrarefiner.models.lite import FeatureBank, FeatureCache, LiteUltraRefiner, TinyViTFeatures, TinyViTUNet, load_lite_pipeline, valid_mask
from ultrarefiner.training.lite import evaluate_bank, predict_coarse

torch.set_num_threads(int(os.environ.get('THREADS', os.cpu_count() or 2)))
out = Path(sys.argv[1]); root = out/'data'/'processed'/'BUSI'
cache_root = Path(os.environ.get('ULTRAREFINER_CACHE', Path.home()/'.cache'/'ultrarefiner'))/'features'
LP = dict(use_point=False, use_neg_point=False, use_box=True, use_mask=True, box_mode='hard', component='largest', multimask=False)
sam = build_sam('lite')
cache = FeatureCache(cache_root, TinyViTFeatures(sam.image_encoder).eval())
with torch.no_grad(): test = FeatureBank.build(root, split_names(root, 'test'), cache)
print(f"{len(test)} test images ({cache.misses} encoded, {cache.hits} from the cache)", flush=True)
st = load_checkpoint(out/'checkpoints'/'lite_coarse'/'fold_0'/'best.pth')
m0 = TinyViTUNet(**{k: tuple(v) if isinstance(v, list) else v for k, v in st['config'].items()}); m0.load_state_dict(st['model']); m0.eval()
p = predict_coarse(m0, test).float() * valid_mask(test.frame)
empty = coarse_is_empty(p); blank = coarse_is_empty(p, min_area=0)
fg = (p > 0.5).flatten(1).sum(1).tolist()
res = {'n': len(test), 'empty_coarse': int(empty.sum()), 'blank_coarse': int(blank.sum()),
       'empty_names': [n for n, e in zip(test.names, empty.tolist()) if e],
       'empty_coarse_pixels': [int(f) for f, e in zip(fg, empty.tolist()) if e], 'rows': []}
print(f"empty coarse masks: {res['empty_coarse']} of {len(test)} (no pixel at all: {res['blank_coarse']}); "
      f"their foreground pixels in the 256² frame: {res['empty_coarse_pixels']}", flush=True)
p2 = load_lite_pipeline(out/'checkpoints'/'lite_phase2'/'fold_0'/'best.pth')
for name, refsam, kw in (('zero-shot LiteMedSAM', sam, LP), ('phase 2 (fold 0)', p2.refiner.sam, p2.refiner.settings())):
    for mode in ('frame', 'empty'):
        pipe = LiteUltraRefiner(refsam, coarse=m0, **dict(kw, on_empty=mode)).eval()
        e = evaluate_bank(pipe, test)
        ri = np.array(e['per_image']['refined']); ci = np.array(e['per_image']['coarse']); em = empty.numpy()
        r = {'refiner': name, 'on_empty': mode, 'coarse': e['coarse']['native'], 'refined': e['refined']['native'],
             'refined_on_empty': float(ri[em].mean()) if em.any() else None, 'coarse_on_empty': float(ci[em].mean()) if em.any() else None,
             'refined_on_others': float(ri[~em].mean())}
        res['rows'].append(r); print(json.dumps(r), flush=True)
tu_ck = out/'checkpoints'/'transunet'/'BUSI'/'fold_0'/'best.pth'
if tu_ck.exists():
    from ultrarefiner.checkpoint import load_transunet
    from ultrarefiner.data.datasets import TransUNetDataset
    from ultrarefiner.metrics import dice_score
    tu = load_transunet('lite', tu_ck).eval()
    tds = TransUNetDataset(root, test.names, 128, sam_type='lite', sam_size=256)
    items = [tds[i] for i in range(len(tds))]
    x = torch.stack([it['image'] for it in items]); y = torch.stack([it['mask'] for it in items])
    fr = torch.stack([it['sam_frame'] for it in items])
    with torch.no_grad(): pt = torch.cat([tu(x[i:i + 16]).softmax(1)[:, 1] for i in range(0, len(x), 16)])
    et = coarse_is_empty(pt); res['transunet'] = {'checkpoint': str(tu_ck), 'empty_coarse': int(et.sum()),
                                                 'blank_coarse': int(coarse_is_empty(pt, min_area=0).sum()),
                                                 'empty_names': [n for n, e in zip(test.names, et.tolist()) if e], 'rows': []}
    print(f"lite-preset TransUNet: empty coarse masks {int(et.sum())} of {len(test)}", flush=True)
    cd = dice_score(pt > 0.5, y.bool())
    for mode in ('frame', 'empty'):
        ref = SAMRefiner(sam, **dict(LP, on_empty=mode)).eval()
        with torch.no_grad():
            lg = torch.cat([ref(None, pt[i:i + 16], embeddings=test.embedding(list(range(i, min(i + 16, len(test))))),
                                frame=fr[i:i + 16], target_size=128)['masks'][:, 0] for i in range(0, len(test), 16)])
        rd = dice_score(lg > 0, y.bool()); em = et          # the images with an empty coarse mask
        r = {'refiner': 'zero-shot LiteMedSAM', 'on_empty': mode, 'coarse': float(cd.mean()), 'refined': float(rd.mean()),
             'refined_on_empty': float(rd[em].mean()) if em.any() else None, 'refined_on_others': float(rd[~em].mean())}
        res['transunet']['rows'].append(r); print(json.dumps(r), flush=True)
(out/'empty.json').write_text(json.dumps(res, indent=1))
print('wrote', out/'empty.json')
