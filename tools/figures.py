#!/usr/bin/env python
"""`python tools/figures.py` (after `make demo`): the landing page's picture, nbs/images/pipeline.png — one test phantom
through the demo's fold-0 model: image → coarse mask → prompts → refined mask (ground truth outlined in the last panel).
`python tools/figures.py segment`: nbs/images/segment.png — what `ultrarefiner segment` writes for a phantom scan
with the bundled weights (overlay, probability map, uncertainty map, the lesions.csv numbers); needs no training."""
import sys
from pathlib import Path
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent


def main(ckpt_root='checkpoints', data=ROOT / 'data/processed/PHANTOM', out=ROOT / 'nbs/images/pipeline.png'):
    data, out = Path(data), Path(out).resolve()
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from ultrarefiner.checkpoint import load_pipeline
    from ultrarefiner.data.files import mask_outline, read_image, read_mask
    from ultrarefiner.inference.images import sam_input
    from ultrarefiner.metrics import dice_score
    model = load_pipeline('PHANTOM', 0, ckpt_root=str(ckpt_root)).eval()
    S = model.transunet.config.img_size
    rows = []
    for f in sorted((data / 'test/images').glob('*.png')):      # the test image with the median coarse → refined gain
        img, gt = read_image(f), read_mask(data / 'test/masks' / f.name)
        H, W = img.shape[:2]
        x = torch.from_numpy(np.array(Image.fromarray(img).resize((S, S), Image.BILINEAR))).float().div(255)[None, None]
        xs, fr = sam_input(img, model.refiner)
        with torch.no_grad(): o = model(x, xs[None], sam_frame=torch.tensor([fr]))
        p = F.interpolate(o['coarse_logits'].softmax(1)[:, 1:], size=(H, W), mode='bilinear', align_corners=False)[0, 0].numpy()
        ref = (F.interpolate(o['refined_logits'].float(), size=(H, W), mode='bilinear', align_corners=False)[0, 0] > 0).numpy()
        g = torch.from_numpy(gt)[None]
        dc, dr = (float(dice_score(torch.from_numpy(m)[None], g)[0]) for m in (p > 0.5, ref))
        rows.append((dr - dc, f.name, img, gt, p, ref, dc, dr, o, fr))
    rows.sort(key=lambda r: r[0]); _, name, img, gt, p, ref, dc, dr, o, (fh, fw) = rows[len(rows) // 2]
    H, W = img.shape[:2]; sx, sy = W / fw, H / fh
    pr = o['prompts']; x0, y0, x1, y1 = (pr.box[0].numpy() * [sx, sy, sx, sy]).tolist()
    fig, axs = plt.subplots(1, 4, figsize=(13, 3.6))
    axs[0].imshow(img, cmap='gray'); axs[0].set_title('1 · ultrasound image', fontsize=10)
    axs[1].imshow(img, cmap='gray'); axs[1].imshow(p, cmap='magma', alpha=0.55, vmin=0, vmax=1)
    axs[1].set_title(f'2 · coarse p, Dice {dc:.3f}', fontsize=10)
    axs[2].imshow(img, cmap='gray'); axs[2].add_patch(plt.Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, ec='cyan', lw=2, label='box'))
    if model.refiner.use_mask:                         # the mask prompt (2p − 1)·scale changes sign on p's 0.5 outline
        ys, xs_ = np.nonzero(mask_outline(p > 0.5))
        axs[2].scatter(xs_, ys, s=0.3, c='orange', label=f'mask prompt (2p − 1)·{model.refiner.prompts.mask_scale:g}')
    if model.refiner.use_point:
        pts = pr.points[0].numpy() * [sx, sy]; axs[2].scatter(pts[:1, 0], pts[:1, 1], c='lime', marker='*', s=120, label='point')
    axs[2].legend(fontsize=7, loc='lower right'); axs[2].set_title('3 · prompts from p → SAM', fontsize=10)
    axs[3].imshow(img, cmap='gray')
    for m, c in ((gt, 'yellow'), (ref, 'red')):
        ys, xs_ = np.nonzero(mask_outline(m)); axs[3].scatter(xs_, ys, s=0.4, c=c)
    axs[3].set_title(f'4 · refined (red), truth (yellow), Dice {dr:.3f}', fontsize=10)
    for a in axs: a.set_xticks([]); a.set_yticks([])
    fig.suptitle(f'The demo\'s fold-0 model (`lite` preset: a TinyViT decoder + LiteMedSAM on one encoder pass) on test phantom {name}', fontsize=10)
    fig.tight_layout(); fig.savefig(out, dpi=100); plt.close(fig)
    print(f'wrote {out} ({name}: coarse {dc:.3f} → refined {dr:.3f})')


def segment_figure(out=ROOT / 'nbs/images/segment.png', n=1, seed=7):
    "Phantom scans (never a dataset image) → `segment_folder` with the bundled weights → one row per scan: overlay, probability, uncertainty."
    import csv, tempfile
    import matplotlib; matplotlib.use('Agg'); import matplotlib.pyplot as plt
    from ultrarefiner.data.files import read_image
    from ultrarefiner.inference.segment import segment_folder
    from ultrarefiner.viz.samples import phantom_samples
    out = Path(out).resolve()
    with tempfile.TemporaryDirectory() as d:
        scans, res = Path(d)/'scans', Path(d)/'out'; scans.mkdir()
        for i, (_, img, _) in enumerate(phantom_samples(n, size=320, seed=seed)):
            Image.fromarray(img).save(scans/f'scan_{i}.png')
        segment_folder(scans, res, verbose=False)
        rows = list(csv.DictReader(open(res/'lesions.csv')))
        fig, axs = plt.subplots(n, 3, figsize=(13, 2.7 * n), squeeze=False)   # one wide row: the landing page's first screen
        for i in range(n):
            name = f'scan_{i}'; lesions = [r for r in rows if r['image'] == name and r.get('area_px') not in (None, '', '0')]
            pics = [read_image(res/f'{name}_overlay.png'), np.array(Image.open(res/f'{name}_prob.png')) / 65535,
                    np.array(Image.open(res/f'{name}_uncertainty.png')) / 65535]
            axs[i, 0].imshow(pics[0]); axs[i, 1].imshow(pics[1], cmap='magma', vmin=0, vmax=1)
            axs[i, 2].imshow(pics[2], cmap='viridis', vmin=0, vmax=1)
            what = '; '.join(f"{int(float(r['area_px']))} px, mean p {float(r['mean_probability']):.2f}" for r in lesions) or 'no lesion found'
            axs[i, 0].set_title(f'{name}_overlay.png — {what}', fontsize=8)
            axs[i, 1].set_title(f'{name}_prob.png (coarse probability)', fontsize=8)
            axs[i, 2].set_title(f'{name}_uncertainty.png (fold × flip spread)', fontsize=8)
            for a in axs[i]: a.set_xticks([]); a.set_yticks([])
        fig.tight_layout(); fig.savefig(out, dpi=90); plt.close(fig)
    print(f'wrote {out}')


if __name__ == '__main__':
    if sys.argv[1:2] == ['segment']: segment_figure(*sys.argv[2:])
    else: main(*sys.argv[1:])
