"""BUSI, `lite`: the 5-fold ensemble of phase-1 coarse models (test-time flip) refined zero-shot by the bundled LiteMedSAM
with several prompt settings, on the test split at each image's own size — how the box threshold and margin chosen on
single-model out-of-fold masks carry over to the ensemble's averaged probabilities (issue 32).

Usage (after bench/busi_kit.sh, same OUT and $ULTRAREFINER_CACHE): .venv/bin/python bench/busi_prompt_variants.py OUT
"""
import sys
from pathlib import Path
from ultrarefiner.checkpoint import find_fold_checkpoint, load_transunet, read_checkpoint, stored_preset
from ultrarefiner.data.datasets import TransUNetDataset
from ultrarefiner.data.splits import split_names
from ultrarefiner.models.refiner import FoldEnsemble, SAMRefiner
from ultrarefiner.models.sam import build_sam
from ultrarefiner.paths import Paths
from ultrarefiner.training.evaluation import score_pipeline

out = Path(sys.argv[1]); ck = out/'checkpoints'; root = out/'data'/'processed'/'BUSI'
pr = stored_preset(read_checkpoint(find_fold_checkpoint('transunet', 'BUSI', 0, ck))[1])
sam = build_sam('lite').eval()
coarse = [load_transunet(pr, find_fold_checkpoint('transunet', 'BUSI', k, ck), sam=sam).eval() for k in range(5)]
coarse[0].attach_cache(Paths(ckpt_root=ck).cache())
tds = TransUNetDataset(root, split_names(root, 'test'), pr.img_size, sam_type=pr.sam, sam_size=pr.sam_img_size)
variants = {'box, threshold 0.4, 5 % margin (chosen on OOF masks)': dict(box_threshold=0.4, box_margin=0.05, use_mask=False),
            'box, threshold 0.5, 5 % margin': dict(box_threshold=0.5, box_margin=0.05, use_mask=False),
            'box, threshold 0.5, no margin': dict(box_threshold=0.5, box_margin=0.0, use_mask=False),
            'box + mask, threshold 0.5, no margin (issue 31)': dict(box_threshold=0.5, box_margin=0.0, use_mask=True)}
masks = {}
print('| prompts (zero-shot, 5-fold ensemble + flip) | coarse | refined | Δ |\n|---|---:|---:|---:|')
for name, kw in variants.items():
    model = FoldEnsemble(coarse, [SAMRefiner(sam, **dict(pr.refiner, gate=None, **kw))], flip=True)
    c, r, *_ = score_pipeline(model, tds, 'cpu', masks=masks)
    cd, rd = c.summary()['dice']['mean'], r.summary()['dice']['mean']
    print(f"| {name} | {cd:.4f} | {rd:.4f} | {rd - cd:+.4f} |", flush=True)
