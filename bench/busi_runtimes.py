"""The image encoder per runtime on real BUSI, one run: encoding time of all 647 images (LiteMedSAM's TinyViT through
`TinyViTFeatures`, the pass the shared-encoder feature cache makes), the embeddings' agreement with eager PyTorch, and the
ground-truth-box Dice of `refine` on the 129 test images (the accuracy guard of the issue: ≤ 0.005 below eager for fp32,
≤ 0.01 for bf16 / INT8). INT8 is calibrated on 16 images of the *training* split. Threads: torch's (2 on this machine).

Usage: .venv/bin/python bench/busi_runtimes.py OUT [SPEC ...]   (OUT holds data/processed/BUSI; SPEC e.g. torch onnx
       openvino openvino:bf16 openvino:int8 — default: every available one). Writes OUT/runtimes.json.
"""
import json, sys, tempfile, time, warnings
from pathlib import Path
import numpy as np
import torch
from ultrarefiner.models.lite import TinyViTFeatures
from ultrarefiner.data.files import read_image
from ultrarefiner.inference.masks import load_refiner, refine_folder
from ultrarefiner.models.export import calibration_images, runtime_available, use_runtime
from ultrarefiner.models.sam import build_sam
from ultrarefiner.data.transforms import sam_preprocess

out = Path(sys.argv[1]); root = out/'data'/'processed'/'BUSI'
specs = sys.argv[2:] or [s for s in ('torch', 'onnx', 'openvino', 'openvino:bf16', 'openvino:int8')
                         if runtime_available(*((s.split(':') + ['fp32'])[:2]))]
files = sorted((root/'train'/'images').glob('*.png')) + sorted((root/'test'/'images').glob('*.png'))
print(f"{len(files)} BUSI images; runtimes {specs}; {torch.get_num_threads()} threads", flush=True)
inputs = [sam_preprocess(read_image(f), 'lite', 256)[0][None] for f in files]
cal = calibration_images('lite', 256, n=16, folder=root/'train'/'images')
res_path = out/'runtimes.json'
rows = json.loads(res_path.read_text()) if res_path.exists() else {}
ref_feats = None
for spec in specs:
    rt, _, prec = spec.partition(':'); prec = prec or 'fp32'
    sam = build_sam('lite').eval()
    for p in sam.parameters(): p.requires_grad_(False)
    feats = TinyViTFeatures(sam.image_encoder).eval()
    cache = tempfile.mkdtemp()                       # a fresh export per run: its time is part of the row
    kw = dict(cache_dir=cache) if rt != 'torch' else {}
    if prec == 'int8': kw['calibration'] = cal
    name = use_runtime(feats, rt, prec, **kw)
    t0 = time.perf_counter()
    with torch.no_grad(): feats(inputs[0])           # export + compile (+ quantise) + the first image
    first = time.perf_counter() - t0
    probe = []
    t0 = time.perf_counter()
    with torch.no_grad():
        for i, x in enumerate(inputs):
            e, s = feats(x)
            if i % 40 == 0: probe.append(e)
    enc_s = time.perf_counter() - t0
    if ref_feats is None and spec == 'torch': ref_feats = probe
    agree = None
    if ref_feats is not None and spec != 'torch':
        d = torch.cat(probe) - torch.cat(ref_feats); r = torch.cat(ref_feats)
        agree = dict(max_abs=float(d.abs().max()), rel=float(d.abs().mean() / r.abs().mean()))
    ref = load_refiner(None, use_point=False, use_neg_point=False, use_box=True, use_mask=False, box_mode='hard', component='all')
    test = root/'test'
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as d:
        r = refine_folder(test/'images', test/'masks', Path(d)/'o', gt_dir=test/'masks', refiner=ref, verbose=False,
                          encoder_runtime=rt, encoder_precision=prec)
    refine_s = time.perf_counter() - t0
    rt_obj = feats.__dict__.get('_ur_runtime')
    rows[spec] = dict(runtime=name, images=len(inputs), encode_s=enc_s, s_per_image=enc_s / len(inputs), first_call_s=first,
                      export_s=rt_obj.export_s if rt_obj else 0.0, agreement_vs_eager=agree,
                      gt_box_dice=r['refined']['dice']['mean'], refine_129_s=refine_s, refine_runtime=r['settings']['encoder_runtime'])
    print(f"{spec:15s} encode {enc_s:7.1f} s ({enc_s / len(inputs):.3f} s/img, first call {first:.1f} s)  GT-box Dice "
          f"{rows[spec]['gt_box_dice']:.4f}  refine 129 in {refine_s:.0f} s  agreement {agree}", flush=True)
    res_path.write_text(json.dumps(rows, indent=1))
base = rows.get('torch')
if base:
    for spec, row in rows.items():
        print(f"{spec:15s} encoder vs eager fp32: {base['encode_s'] / row['encode_s']:.2f}x   Dice drop {base['gt_box_dice'] - row['gt_box_dice']:+.4f}")
