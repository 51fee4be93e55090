"""Reliability round 3 as properties: each principle checked over many generated variants (sizes, aspects, dtypes,
encodings, empty and near-empty masks), not one example each.

- never invent: an (almost) empty coarse mask gives an empty refined mask and no IoU claim, in any frame size;
- never stretch: a paired file of the image's aspect is resized, any other aspect is an error naming both files and sizes;
- never drop: every accepted mask encoding reads back exactly the foreground it was written with, prepare's manifest
  shows source = processed, and shrinking a mask keeps every lesion;
- one reader (round 4): prepare, refine's coarse masks and refine's ground truth read the same hostile files alike.
"""
import csv, io
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image
from scipy import ndimage
from ultrarefiner.errors import DataError
from ultrarefiner.data.files import pair_fit, read_mask
from ultrarefiner.data.layouts import prepare_dataset
from ultrarefiner.data.datasets import resize_mask
from ultrarefiner.models.prompts import MIN_AREA, coarse_is_empty
from ultrarefiner.models.refiner import EMPTY_LOGIT, SAMRefiner
from ultrarefiner.models.sam import build_sam

RNG = np.random.default_rng(2026)


def _blobs(rng, h, w, n=None):
    "A random mask of 1–3 elliptic lesions, each at least 3 px across."
    m = np.zeros((h, w), bool); yy, xx = np.mgrid[:h, :w]
    for _ in range(n or rng.integers(1, 4)):
        cy, cx = rng.integers(0, h), rng.integers(0, w)
        ry, rx = rng.integers(2, max(3, h // 4)), rng.integers(2, max(3, w // 4))
        m |= ((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2 <= 1
    return m


# ---------------------------------------------------------------- never invent
@pytest.fixture(scope='module')
def refiner():
    torch.manual_seed(0)
    return SAMRefiner(build_sam('tiny')).eval()


@pytest.mark.parametrize('size', [(16, 16), (40, 64), (64, 64), (97, 33), (128, 200)])
@pytest.mark.parametrize('dtype', [torch.float32, torch.float64, torch.bfloat16])
def test_never_invent_empty_and_near_empty(refiner, size, dtype):
    "Blank, sub-threshold and near-empty coarse masks (any frame, any dtype) → empty refined mask, IoU 0; real lesions refine."
    H, W = size
    n_near = max(0, int(np.ceil(MIN_AREA * H * W)) - 1)          # the most stray pixels that still count as empty
    p = torch.zeros(5, H, W)
    p[1] = 0.49                                                   # a soft mask that never crosses the threshold
    p[2].view(-1)[torch.randperm(H * W)[:n_near]] = 0.9           # near-empty: stray pixels below min_area
    p[3, H // 4:H // 4 + max(2, H // 3), W // 4:W // 4 + max(2, W // 3)] = 0.8   # a lesion well above min_area
    p[4] = torch.rand(H, W) * 0.5                                 # noise under the threshold
    frame = torch.tensor([[256, 256], [200, 256], [256, 128], [256, 256], [64, 256]])
    with torch.no_grad(): o = refiner(torch.rand(5, 3, 256, 256), p.to(dtype), frame=frame)
    assert o['empty'].tolist() == [True, True, True, False, True]
    assert coarse_is_empty(p).tolist() == o['empty'].tolist()
    e = o['empty']
    assert (o['masks'][e] == EMPTY_LOGIT).all() and (o['low_res'][e] == EMPTY_LOGIT).all()
    assert (o['iou'][e] == 0).all() and (o['all_iou'][e] == 0).all()
    assert (o['masks'][3] != EMPTY_LOGIT).any()


def test_never_invent_gradient_only_from_real_prompts(refiner):
    "In training, an empty image adds a constant and no gradient; the other images of the batch still train the decoder."
    p = torch.zeros(2, 64, 64); p[0, 10:40, 10:40] = 0.9
    refiner.train()
    o = refiner(torch.rand(2, 3, 256, 256), p.requires_grad_())
    o['masks'][1].sum().backward(retain_graph=True)
    assert p.grad is None or float(p.grad.abs().sum()) == 0.0
    refiner.zero_grad(); o['masks'][0].sum().backward()
    assert any(float(q.grad.abs().sum()) > 0 for q in refiner.sam.mask_decoder.parameters() if q.grad is not None)
    refiner.eval()


@pytest.mark.parametrize('manual', ['box', 'positive click', 'negative click only'])
def test_never_invent_user_prompt_is_a_prompt(refiner, manual):
    "A user's box or positive click refines an empty-coarse image zero-shot; a negative click alone is no prompt."
    p = torch.zeros(1, 64, 64)
    m = {'box': {'box': torch.tensor([[40., 40., 160., 160.]])},
         'positive click': {'points': torch.tensor([[[100., 100.]]]), 'labels': torch.tensor([[1]])},
         'negative click only': {'points': torch.tensor([[[100., 100.]]]), 'labels': torch.tensor([[0]])}}[manual]
    with torch.no_grad(): o = refiner(torch.rand(1, 3, 256, 256), p, manual=m)
    assert o['empty'].tolist() == [manual == 'negative click only']


# ---------------------------------------------------------------- never stretch
SIZES = [(471, 562), (300, 300), (719, 1048), (310, 190), (64, 640), (1024, 768)]


@pytest.mark.parametrize('H,W', SIZES)
def test_never_stretch(H, W):
    "Same aspect at any scale → 'resized'; an aspect off by more than pixel rounding → error naming both files and sizes."
    for s in (0.25, 0.5, 1.5, 2.0, 3.0):
        h, w = max(1, round(H * s)), max(1, round(W * s))
        assert pair_fit('img.png', (H, W), 'c.npy', (h, w)) == 'resized', (H, W, h, w)
    assert pair_fit('img.png', (H, W), 'c.npy', (H, W)) == 'same'
    for dh, dw in ((1.1, 1.0), (1.0, 0.9), (0.5, 1.0), (W / H, H / W)):
        h, w = max(4, round(H * dh)), max(4, round(W * dw))
        if abs((w / h) / (W / H) - 1) < 0.05: continue            # (a square image swapped is still square)
        with pytest.raises(DataError) as e: pair_fit('img.png', (H, W), 'c.npy', (h, w), 'coarse mask', flag='--stretch_coarse')
        msg = str(e.value)
        assert f'c.npy: coarse mask is {w}×{h}' in msg and f'img.png is {W}×{H}' in msg and '--stretch_coarse' in msg
        assert pair_fit('img.png', (H, W), 'c.npy', (h, w), stretch=True) == 'stretched'


# ---------------------------------------------------------------- never drop
def _encode(kind, m, rng):
    "(PIL image, what it should read as) for a bool mask `m` in encoding `kind`."
    u8 = m.astype(np.uint8)
    if kind == '1-bit': return Image.fromarray(m)
    if kind == '0/1': return Image.fromarray(u8)
    if kind == '0/255': return Image.fromarray(u8 * 255)
    if kind == '0/65535': return Image.fromarray(u8.astype(np.uint16) * 65535)
    if kind == 'offset 3/250': return Image.fromarray(np.where(m, 250, 3).astype(np.uint8))
    if kind == 'palette':
        im = Image.fromarray(u8, 'P'); im.putpalette([0, 0, 0, 255, 0, 0] + [0] * 762); return im
    if kind == 'RGB colour':
        c = rng.integers(140, 256, 3); return Image.fromarray((m[..., None] * c).astype(np.uint8))
    if kind == 'RGB green':
        a = np.zeros(m.shape + (3,), np.uint8); a[m, 1] = 255; return Image.fromarray(a)
    if kind == 'RGBA alpha only':
        a = np.zeros(m.shape + (4,), np.uint8); a[..., 3] = u8 * 255; return Image.fromarray(a)
    if kind == 'LA alpha only':
        a = np.zeros(m.shape + (2,), np.uint8); a[..., 1] = u8 * 255; return Image.fromarray(a, 'LA')
    if kind == 'LA luminance':
        a = np.full(m.shape + (2,), 255, np.uint8); a[..., 0] = u8 * 255; return Image.fromarray(a, 'LA')
    raise ValueError(kind)


KINDS = ['1-bit', '0/1', '0/255', '0/65535', 'offset 3/250', 'palette', 'RGB colour', 'RGB green', 'RGBA alpha only',
         'LA alpha only', 'LA luminance']


@pytest.mark.parametrize('kind', KINDS)
def test_never_drop_every_encoding(tmp_path, kind):
    "Each accepted encoding, on random lesions of random sizes, reads back exactly the foreground it was written with."
    rng = np.random.default_rng(KINDS.index(kind))
    for i in range(6):
        h, w = int(rng.integers(20, 200)), int(rng.integers(20, 200))
        m = _blobs(rng, h, w)
        f = tmp_path / f'{i}.png'; _encode(kind, m, rng).save(f)
        assert np.array_equal(read_mask(f), m), (kind, i, (h, w))


@pytest.mark.parametrize('levels', [(1, 2), (1, 2, 3), (60, 255), (1, 255), (2, 5, 9)])
def test_never_drop_levels_refused(tmp_path, levels):
    "Masks whose lesions carry different values (label maps, a dimmer lesion) stop with the values listed, never half read."
    m = np.zeros((60, 80), np.uint8)
    for k, v in enumerate(levels): m[5 + 18 * k:15 + 18 * k, 5 + 20 * k:25 + 20 * k] = v
    f = tmp_path / 'lab.png'; Image.fromarray(m).save(f)
    with pytest.raises(DataError, match=r'lab\.png: mask values 0 \(\d+ px\), ' + str(levels[0]) + r' \(200 px\)'):
        read_mask(f)


def test_never_drop_jpeg_and_soft_edges(tmp_path):
    "JPEG masks and anti-aliased outlines are read (their noise and rims are not content), close to the true mask."
    rng = np.random.default_rng(1)
    for i in range(6):
        m = _blobs(rng, 120, 160)
        Image.fromarray(m.astype(np.uint8) * 255).save(tmp_path / f'{i}.jpg', quality=int(rng.integers(60, 95)))
        soft = np.asarray(Image.fromarray(m.astype(np.uint8) * 255).resize((320, 240), Image.BILINEAR))
        Image.fromarray(soft).save(tmp_path / f'{i}_soft.png')
        r = read_mask(tmp_path / f'{i}.jpg')
        assert (r & m).sum() / (r | m).sum() > 0.95
        big = np.asarray(Image.fromarray(m).resize((320, 240), Image.NEAREST))
        rs = read_mask(tmp_path / f'{i}_soft.png')
        assert (rs & big).sum() / (rs | big).sum() > 0.9


def test_never_drop_prepare_manifest(tmp_path):
    "prepare over many encodings and merged multi-lesion masks: manifest source = processed foreground for every image."
    rng = np.random.default_rng(3)
    src = tmp_path / 'raw' / 'D'; (src / 'images').mkdir(parents=True); (src / 'masks').mkdir()
    truth = {}
    for i, kind in enumerate(KINDS * 2):
        h, w = int(rng.integers(40, 120)), int(rng.integers(40, 120))
        m = _blobs(rng, h, w); truth[f'c{i}'] = int(m.sum())
        Image.fromarray(rng.integers(0, 255, (h, w), dtype=np.uint8)).save(src / 'images' / f'c{i}.png')
        _encode(kind, m, rng).save(src / 'masks' / f'c{i}.png')
    prepare_dataset(src, tmp_path / 'out', 'D', folds=2)
    rows = list(csv.DictReader((tmp_path / 'out/processed/D/manifest.csv').open()))
    assert len(rows) == len(truth)
    for r in rows:
        assert int(r['source_foreground_px']) == int(r['processed_foreground_px']) == truth[r['name']], r


@pytest.mark.parametrize('src', [(400, 480), (719, 1048), (310, 190), (128, 128)])
@pytest.mark.parametrize('dst', [16, 64, 224, (100, 50)])
def test_never_drop_resize_keeps_every_lesion(src, dst):
    "Shrinking a mask keeps each lesion (thin lines, single pixels included) as at least one pixel near where it was."
    rng = np.random.default_rng(src[0] * 7 + src[1] + (dst if isinstance(dst, int) else sum(dst)))
    H, W = src
    m = _blobs(rng, H, W)
    for _ in range(3):                                           # thin lines and single pixels the sampling can miss
        y, x = int(rng.integers(0, H)), int(rng.integers(0, W)); m[y, x] = True
        c = int(rng.integers(0, W)); m[H // 3:H // 2, c] = True
    lab, n = ndimage.label(m)
    r = resize_mask(m, dst)
    h, w = (dst, dst) if isinstance(dst, int) else dst
    assert r.shape == (h, w)
    for k in range(1, n + 1):
        ys, xs = np.nonzero(lab == k)
        y0, y1 = int(ys.min() * h / H) - 1, int(ys.max() * h / H) + 2
        x0, x1 = int(xs.min() * w / W) - 1, int(xs.max() * w / W) + 2
        assert r[max(0, y0):y1, max(0, x0):x1].any(), (k, src, dst)


# ---------------------------------------------------------------- one reader (round 4)
def test_one_reader_every_command_agrees(tmp_path):
    """Every command that reads masks reads the same hostile files the same way: `prepare` (what training and `evaluate`
    see), `refine`'s coarse masks and its ground truth — every accepted encoding, a JPEG mask, a 16-bit {0, 1000} mask,
    a lesion split over x_mask + x_mask_1 — and all of them refuse a label map with two labels, naming the file."""
    import json
    from ultrarefiner.inference.masks import refine_folder
    from ultrarefiner.errors import UltraRefinerError
    rng = np.random.default_rng(11)
    raw = tmp_path / 'raw' / 'D'; (raw / 'images').mkdir(parents=True); (raw / 'masks').mkdir()
    kinds = KINDS + ['JPEG', '0/1000', 'x_mask + x_mask_1']
    for i, kind in enumerate(kinds):
        h, w = 96 + 4 * i, 128
        m = _blobs(rng, h, w, n=2); m[h // 3:h // 3 + 12, w // 3:w // 3 + 16] = True
        img = rng.integers(50, 110, (h, w)).astype(np.uint8); img[m] = 30
        n = f'k{i:02d}'; Image.fromarray(img).save(raw / 'images' / f'{n}.png')
        if kind == 'JPEG': Image.fromarray(m.astype(np.uint8) * 255).save(raw / 'masks' / f'{n}.jpg', quality=90)
        elif kind == '0/1000': Image.fromarray(m.astype(np.uint16) * 1000).save(raw / 'masks' / f'{n}.png')
        elif kind == 'x_mask + x_mask_1':
            a, b = m.copy(), m.copy(); a[:, w // 2:] = False; b[:, :w // 2] = False
            Image.fromarray(a.astype(np.uint8) * 255).save(raw / 'masks' / f'{n}_mask.png')
            Image.fromarray(b.astype(np.uint8) * 255).save(raw / 'masks' / f'{n}_mask_1.png')
        else: _encode(kind, m, rng).save(raw / 'masks' / f'{n}.png')
    prepare_dataset(raw, tmp_path / 'out', 'D', folds=2)
    proc = {p.stem: read_mask(p) for p in (tmp_path / 'out/processed/D').glob('*/masks/*.png')}
    assert len(proc) == len(kinds)
    refine_folder(raw / 'images', raw / 'masks', tmp_path / 'ref', gt_dir=raw / 'masks', verbose=False, encoder_runtime='torch')
    recs = {Path(r['image']).stem: r for r in json.loads((tmp_path / 'ref/prompts.json').read_text())['images']}
    for i, kind in enumerate(kinds):
        n, exact = f'k{i:02d}', kind != 'JPEG'
        tol = 1e-9 if exact else 2e-3
        assert abs(recs[n]['coarse_fraction'] - proc[n].mean()) < tol, (kind, recs[n]['coarse_fraction'], proc[n].mean())
        assert recs[n]['coarse_dice'] >= (1.0 if exact else 0.99), (kind, recs[n]['coarse_dice'])   # coarse and ground truth agree
    lab = np.zeros((96, 128), np.uint8); lab[10:30, 10:40] = 1; lab[50:80, 60:100] = 2          # a label map with two labels
    Image.fromarray(lab).save(raw / 'masks' / 'k00.png')
    with pytest.raises(DataError, match=r'k00\.png: mask values 0 .*1 .*2 '): prepare_dataset(raw, tmp_path / 'out2', 'D', folds=2)
    with pytest.raises(DataError, match=r'k00\.png: mask values 0 .*1 .*2 '):
        refine_folder(raw / 'images', raw / 'masks', tmp_path / 'ref2', verbose=False, encoder_runtime='torch')
