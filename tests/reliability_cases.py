"""The reliability registry: bad inputs, crashes mid-write, untrusted checkpoints, data leakage, and content the kit must
never invent, stretch or drop. Each `Case` runs in a fresh scratch folder and its observed message must match the
documented behaviour; `tests/test_reliability.py` runs every case, and the docs page `15_reliability` renders the table
from this same registry. A test fixture, not library code: it lives with the tests."""
from __future__ import annotations
import json, os, pickle, re, tempfile, traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable
import numpy as np
import torch
from PIL import Image
from ultrarefiner.errors import CheckpointError, DataError, UltraRefinerError
from ultrarefiner.io import atomic_write_bytes, load_checkpoint, save_checkpoint


@dataclass
class Case:
    "One reliability case."
    category:str
    name:str
    expected:str                 # the documented behaviour
    pattern:str                  # regex the observed message must match
    run:Callable|None = None     # fn(scratch dir) → observed message (None: subprocess test in tests/)


def _current_umask() -> int:
    "The process umask (read without changing it for longer than one call)."
    m = os.umask(0); os.umask(m); return m

def _img(d, name, arr):
    p = Path(d)/name; p.parent.mkdir(parents=True, exist_ok=True); Image.fromarray(arr).save(p); return p

def _dataset(d, n=8, size=(40, 48)):
    rng = np.random.default_rng(0)
    for i in range(n):
        m = np.zeros(size, np.uint8); m[5 + i % 5:20, 8:25 + i % 7] = 255
        _img(d, f'raw/D/images/c{i}.png', rng.integers(0, 255, size, dtype=np.uint8)); _img(d, f'raw/D/masks/c{i}.png', m)
    return Path(d)/'raw'/'D'

def _prep(d, folds=2, **kw):
    from ultrarefiner.data.layouts import prepare_dataset
    return prepare_dataset(Path(d)/'raw'/'D', Path(d)/'out', 'D', folds=folds, **kw)

def _err(fn):
    try: r = fn()
    except UltraRefinerError as e: return f"{type(e).__name__}: {e}"
    return f"no error: {r}"

def _c_corrupt(kind):
    def run(d):
        root = _dataset(d)
        p = root/'images/c3.png'
        p.write_bytes({'truncated': p.read_bytes()[:60], 'zero-byte': b'', 'not an image': b'%PDF-1.4 this is a pdf'}[kind])
        return _err(lambda: _prep(d))
    return run

def _c_skip_bad(d):
    root = _dataset(d); (root/'images/c3.png').write_bytes(b'')
    rep = _prep(d, skip_bad=True)
    return f"kept {rep.n_kept}, skipped: {rep.skipped[0][1][:120]}"

def _c_16bit_rgba(d):
    root = _dataset(d)
    a = np.array(Image.open(root/'images/c0.png')).astype(np.uint16) * 257
    Image.fromarray(a).save(root/'images/c0.png')
    rgba = np.dstack([np.array(Image.open(root/'images/c1.png'))] * 3 + [np.full((40, 48), 255, np.uint8)])
    Image.fromarray(rgba).save(root/'images/c1.png')
    rep = _prep(d)
    out = next((Path(d)/'out/processed/D').rglob('images/c0.png'))
    return f"kept {rep.n_kept}; c0 stored as {Image.open(out).mode}"

def _c_small_elongated(d):
    from ultrarefiner.data.datasets import TransUNetDataset
    root = Path(d)/'raw'/'D'
    for i, (h, w) in enumerate([(20, 30), (16, 400), (300, 12), (50, 60), (64, 64), (40, 900)]):
        m = np.zeros((h, w), np.uint8); m[h // 4:3 * h // 4, w // 4:3 * w // 4] = 255
        _img(d, f'raw/D/images/odd {i}.png', np.full((h, w), 90, np.uint8)); _img(d, f'raw/D/masks/odd {i}.png', m)
    _prep(d)
    ds = TransUNetDataset(Path(d)/'out/processed/D', [f'odd {i}' for i in range(6)], 224)
    shapes = {tuple(ds[i]['image'].shape) for i in range(6)}
    return f"all resized to {shapes}"

def _c_names(d):
    root = _dataset(d)
    for i, n in enumerate(['a b (1)', 'läsion ü', '病変']):
        os.rename(root/f'images/c{i}.png', root/f'images/{n}.png'); os.rename(root/f'masks/c{i}.png', root/f'masks/{n}.png')
    rep = _prep(d)
    names = sorted(p.stem for p in (Path(d)/'out/processed/D').rglob('images/*.png'))
    return f"kept {rep.n_kept}: {[n for n in names if not n.startswith('c')]}"

def _c_mask_size(d):
    root = _dataset(d); _img(d, 'raw/D/masks/c2.png', np.zeros((30, 30), np.uint8))
    return _err(lambda: _prep(d))

def _c_mask_values(d):
    root = _dataset(d)
    m = np.array(Image.open(root/'masks/c0.png')); noisy = np.where(m > 0, 250, 3).astype(np.uint8)   # JPEG-like 3/250
    Image.fromarray(noisy).save(root/'masks/c0.png')
    from ultrarefiner.data.files import read_mask
    return f"foreground pixels: {int(read_mask(root/'masks/c0.png').sum())} of {int((m > 0).sum())} expected"

def _c_empty_folder(d):
    (Path(d)/'raw'/'D').mkdir(parents=True); return _err(lambda: _prep(d))

def _c_unknown_layout(d):
    (Path(d)/'raw'/'D'/'scans').mkdir(parents=True); (Path(d)/'raw'/'D'/'notes.txt').write_text('x')
    return _err(lambda: _prep(d))

def _c_no_mask(d):
    root = _dataset(d); _img(d, 'raw/D/images/lonely.png', np.zeros((40, 48), np.uint8))
    return _err(lambda: _prep(d))

def _c_pred_nan(d):
    from ultrarefiner.data.files import mask_probability
    a = np.full((8, 8), 0.5, np.float32); a[2, 2] = np.nan; np.save(Path(d)/'case.npy', a)
    return _err(lambda: mask_probability(Path(d)/'case.npy'))

def _c_pred_inf(d):
    from ultrarefiner.data.files import mask_probability
    a = np.full((8, 8), 0.5, np.float32); a[0, 0] = np.inf; np.save(Path(d)/'case.npy', a)
    return _err(lambda: mask_probability(Path(d)/'case.npy'))

def _c_pred_missing(d):
    from ultrarefiner.data.datasets import check_predictions
    (Path(d)/'pred').mkdir(); np.save(Path(d)/'pred'/'a.npy', np.zeros((4, 4)))
    return _err(lambda: check_predictions(Path(d)/'pred', ['a', 'b']))

def _c_ckpt_keys(d):
    from ultrarefiner.models.sam import build_sam, load_sam_weights
    sd = build_sam('tiny').state_dict(); sd['bogus.weight'] = torch.zeros(1); sd.pop('mask_decoder.iou_token.weight')
    torch.save(sd, Path(d)/'sam.pth'); return _err(lambda: load_sam_weights(build_sam('tiny'), Path(d)/'sam.pth'))

def _c_ckpt_shapes(d):
    from ultrarefiner.models.sam import build_sam, load_sam_weights
    torch.save(build_sam('tiny').state_dict(), Path(d)/'sam.pth')
    return _err(lambda: load_sam_weights(build_sam('tiny', img_size=128), Path(d)/'sam.pth'))

def _c_ckpt_preset(d):
    from ultrarefiner.checkpoint import load_transunet
    from ultrarefiner.models.transunet import build_transunet
    save_checkpoint({'model': build_transunet('tiny').state_dict()}, Path(d)/'best.pth')
    return _err(lambda: load_transunet('small', Path(d)/'best.pth'))

class _Evil:
    def __init__(self, path): self.path = path
    def __reduce__(self): return (os.system, (f"touch '{self.path}'",))

def _c_malicious(d):
    sentinel = Path(d)/'SENTINEL'
    torch.save({'model': {'w': _Evil(sentinel)}}, Path(d)/'evil.pth')
    msg = _err(lambda: load_checkpoint(Path(d)/'evil.pth'))
    return f"{msg[:160]} | sentinel created: {sentinel.exists()}"

def _c_disk_full(d):
    import resource, subprocess, sys
    code = ("import resource; resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096)); import signal; "
            "signal.signal(signal.SIGXFSZ, signal.SIG_IGN); from ultrarefiner.io import atomic_write_bytes; "
            f"atomic_write_bytes({str(Path(d)/'big.bin')!r}, b'x' * 100000)")
    (Path(d)/'big.bin').write_bytes(b'previous')
    r = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True)
    left = sorted(p.name for p in Path(d).iterdir())
    return f"{r.stderr.strip().splitlines()[-1][:200]} | previous file: {(Path(d)/'big.bin').read_bytes()!r} | files: {left}"

def _c_empty_coarse(d):
    from ultrarefiner.models.prompts import PromptGenerator
    pr = PromptGenerator(sam_size=256)(torch.zeros(2, 64, 64))
    ok = all(torch.isfinite(t).all() for t in (pr.points, pr.box, pr.mask))
    return f"finite prompts: {ok}; labels {pr.labels.tolist()}; box {pr.box[0].round().tolist()}"

def _c_all_background(d):
    from ultrarefiner.models.refiner import build_ultrarefiner
    from ultrarefiner.config import get_preset
    from ultrarefiner.losses import pipeline_loss
    torch.manual_seed(0); m = build_ultrarefiner('tiny'); x = torch.rand(2, 1, 64, 64); y = torch.zeros(2, 64, 64, dtype=torch.long)
    pr = get_preset('tiny')
    o = m(x); loss = pipeline_loss(o, y, pr.coarse_loss_weight, pr.refined_loss_weight, pr.coarse_loss_terms, pr.refined_iou_weight)[0]
    loss.backward()
    g = [p.grad for p in m.parameters() if p.grad is not None]
    return f"loss finite: {bool(torch.isfinite(loss))}; grads finite: {all(torch.isfinite(t).all() for t in g)}; non-zero: {sum(float(t.abs().sum()) for t in g) > 0}"

def _c_leak_busi(d):
    from ultrarefiner.paths import shared_data_dir
    from ultrarefiner.data.layouts import scan
    from ultrarefiner.data.files import read_image
    from ultrarefiner.data.splits import check_splits, merge_duplicate_groups
    import hashlib
    root = shared_data_dir()/'BUSI'
    a, b = root/'benign'/'benign (433).png', root/'malignant'/'malignant (145).png'
    if not a.exists(): return 'skipped: BUSI not found'
    names = ['benign (433)', 'malignant (145)', 'benign (1)', 'benign (2)']
    files = [a, b, root/'benign'/'benign (1).png', root/'benign'/'benign (2).png']
    hs = [hashlib.sha1(read_image(f).tobytes()).hexdigest() for f in files]
    groups, dups = merge_duplicate_groups(names, names, hs)
    bad = {'seed': 0, 'test': ['benign (433)', 'benign (1)'], 'folds': []}
    return _err(lambda: check_splits(bad, dict(zip(names, groups))))

def _c_leak_patient(d):
    from ultrarefiner.data.splits import check_splits
    bad = {'seed': 0, 'test': ['P01_a'], 'folds': []}
    return _err(lambda: check_splits(bad, {'P01_a': 'P01', 'P01_b': 'P01', 'P02_a': 'P02'}))

CASES = [
    Case('bad image file', 'truncated PNG', 'error naming the file; --skip_bad drops it with a warning', r'DataError: .*c3\.png: cannot decode.*--skip_bad', _c_corrupt('truncated')),
    Case('bad image file', 'zero-byte file', 'error naming the file', r'DataError: .*c3\.png: empty \(0-byte\) file', _c_corrupt('zero-byte')),
    Case('bad image file', 'non-image saved as .png', 'error naming the file', r'DataError: .*c3\.png: cannot decode', _c_corrupt('not an image')),
    Case('bad image file', '--skip_bad', 'bad file skipped with a warning naming it; the rest prepared', r'kept 7, skipped: .*c3\.png', _c_skip_bad),
    Case('unusual image', '16-bit and RGBA images', 'rescaled to 8 bits / alpha dropped; prepared normally', r'kept 8; c0 stored as L', _c_16bit_rgba),
    Case('unusual image', 'smaller than 224 or extremely elongated', 'prepared, then resized to the model size', r"all resized to \{\(1, 224, 224\)\}", _c_small_elongated),
    Case('unusual image', 'spaces, parentheses, unicode in names', 'kept as given in every output path', r"kept 8: .*'a b \(1\)'.*'läsion ü'.*'病変'", _c_names),
    Case('bad mask', 'mask size differs from its image', 'error naming both files and sizes; nothing written', r'DataError: .*c2\.png: mask size 30x30 differs from its image', _c_mask_size),
    Case('bad mask', 'values other than 0/255', 'binarised at half the mask maximum (JPEG noise ignored)', r'foreground pixels: (\d+) of \1 expected', _c_mask_values),
    Case('bad dataset folder', 'empty dataset folder', 'error listing the expected layouts', r'DataError: .*unknown dataset layout \(contains nothing\)', _c_empty_folder),
    Case('bad dataset folder', 'unknown layout', 'error listing what was found and the expected layouts', r"DataError: .*unknown dataset layout \(contains \['notes.txt', 'scans'\]\)", _c_unknown_layout),
    Case('bad dataset folder', 'image with no mask', 'a broken pair: error naming the image (with every other broken pair, nothing written); --skip_bad prepares the rest and lists it in excluded.csv', r'DataError: .*lonely\.png: no mask found.*--skip_bad', _c_no_mask),
    Case('bad prediction', 'NaN in a prediction .npy', 'error naming the file', r'DataError: .*case\.npy: contains NaN or Inf', _c_pred_nan),
    Case('bad prediction', 'Inf in a prediction .npy', 'error naming the file', r'DataError: .*case\.npy: contains NaN or Inf', _c_pred_inf),
    Case('bad prediction', 'prediction missing for a name', 'error listing the missing names', r'DataError: .*1 missing \(b\)', _c_pred_missing),
    Case('bad checkpoint', 'wrong keys', 'error naming every missing and unexpected key', r'CheckpointError: .*missing keys: 1 \(mask_decoder\.iou_token\.weight\) \| unexpected keys: 1 \(bogus\.weight\)', _c_ckpt_keys),
    Case('bad checkpoint', 'wrong shapes', 'error naming every mis-shaped key', r'CheckpointError: .*shape mismatches: \d+ \(.*checkpoint .* vs model', _c_ckpt_shapes),
    Case('bad checkpoint', 'another preset', 'error naming the file and the preset', r"UltraRefinerError: .*best\.pth does not fit the coarse model of preset 'small'", _c_ckpt_preset),
    Case('untrusted checkpoint', 'malicious pickle', 'refused by weights_only loading; no code runs', r'CheckpointError: Refused to load .*evil\.pth.*sentinel created: False', _c_malicious),
    Case('crash', 'write error (disk full)', 'clear error; previous file intact; no temp file left', r"UltraRefinerError: Could not write .*big\.bin.*previous file: b'previous' \| files: \['big\.bin'\]", _c_disk_full),
    Case('crash', 'kill -9 during a checkpoint save', 'previous best.pth intact and loadable (tests/test_reliability.py)', '', None),
    Case('crash', 'kill -9 during training, then --resume', 'resumes from last.pth and finishes (tests/test_reliability.py)', '', None),
    Case('degenerate input', 'empty coarse mask', 'finite prompts: centre point, whole-frame box, no negative point', r'finite prompts: True; labels \[\[1, -1\], \[1, -1\]\]', _c_empty_coarse),
    Case('degenerate input', 'all-background batch', 'finite losses and non-zero finite gradients', r'loss finite: True; grads finite: True; non-zero: True', _c_all_background),
    Case('leakage', "BUSI's duplicate pair split across test/train", 'refused by the split guard', r'DataError: Leakage: groups .* appear in both test and train', _c_leak_busi),
    Case('leakage', 'one patient in test and train', 'refused by the split guard', r"DataError: Leakage: groups \['P01'\] appear in both test and train", _c_leak_patient),
]

def run_case(c:Case) -> tuple:
    "(passed, observed message) for one case, in a fresh scratch folder; passed is None when the case was skipped."
    with tempfile.TemporaryDirectory() as d:
        try: msg = c.run(d)
        except Exception as e: msg = f"UNEXPECTED {type(e).__name__}: {e}\n{traceback.format_exc()[-800:]}"
    if msg.startswith('skipped:'): return None, msg
    passed = bool(re.search(c.pattern, msg, re.S))
    shown = re.sub(r'/(?:private/)?(?:tmp|var/folders)/[\w./-]*?tmp[\w-]+', 'scratch', msg.replace(os.path.realpath(d), 'scratch').replace(d, 'scratch'))
    return passed, shown                          # the docs table shows `scratch/…`, never this machine's temp paths

def cases_markdown(results:dict|None=None) -> str:
    "The docs table of every case and its behaviour (with the observed message when `results` are given)."
    rows = ['| category | case | behaviour | observed |', '|---|---|---|---|']
    for c in CASES:
        obs = (results or {}).get(c.name, ('', 'subprocess test in tests/test_reliability.py' if c.run is None else ''))[1]
        obs = obs.replace('|', '¦').replace('\n', ' ')[:180]
        rows.append(f"| {c.category} | {c.name} | {c.expected} | `{obs}` |" if obs else f"| {c.category} | {c.name} | {c.expected} | |")
    return '\n'.join(rows)

def _cli(d, *args) -> str:
    "Run `ultrarefiner ARGS` in-process in folder `d`: 'rc N: <stderr + stdout tail>' (argparse errors included)."
    import contextlib, io
    from ultrarefiner.cli import main
    out, err, cwd = io.StringIO(), io.StringIO(), os.getcwd()
    os.chdir(d)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            try: rc = main([str(a) for a in args])
            except SystemExit as e: rc = e.code
    finally: os.chdir(cwd)
    return f"rc {rc}: {err.getvalue().strip()[-600:]} {out.getvalue().strip()[-300:]}"

def _files(folder) -> list:
    return sorted(str(p.relative_to(folder)) for p in Path(folder).rglob('*') if p.is_file())

def _tiny_loop(d, **config):
    "A two-epoch Loop on a 6-sample regression problem in folder d/fold (the phases' loop, seconds to run)."
    from ultrarefiner.training.loop import Loop, poly_schedule
    torch.manual_seed(0); m = torch.nn.Linear(4, 1); o = torch.optim.SGD(m.parameters(), lr=config.get('lr', 0.01))
    ds = [(torch.randn(4), torch.randn(1)) for _ in range(6)]
    step = lambda m, b: (((m(b[0]) - b[1]) ** 2).mean(), {})
    force = config.pop('force', False)
    return Loop(m, o, poly_schedule(o, 4), step, lambda m: {'dice': 0.5}, Path(d)/'fold', epochs=2, batch_size=3, verbose=False,
                config=config, force=force)

def _pipeline_ckpt(d, kind='phase3') -> Path:
    from ultrarefiner.models.refiner import build_ultrarefiner
    torch.manual_seed(0); m = build_ultrarefiner('tiny')
    sd = m.state_dict() if kind == 'phase3' else m.transunet.state_dict()
    return save_checkpoint({'model': sd, 'config': {'preset': 'tiny'}}, Path(d)/f'{kind}.pth')

def _images(d, names, size=(40, 48)) -> Path:
    for n in names: _img(d, f'in/{n}', np.random.default_rng(len(n)).integers(0, 255, size, dtype=np.uint8))
    return Path(d)/'in'

def _c_prepare_over_input(d):
    src = Path(d)/'data/processed/MINE'
    for sp in ('train', 'test'):
        for i in range(4):
            m = np.zeros((40, 48), np.uint8); m[5:20, 8:30] = 255 * (i != 3)
            _img(d, f'data/processed/MINE/{sp}/images/{sp}{i}.jpg', np.full((40, 48), 60 + i, np.uint8))
            _img(d, f'data/processed/MINE/{sp}/masks/{sp}{i}.png', m)
    (src/'notes.txt').write_text('keep me')
    before = _files(src)
    msg = _cli(d, 'prepare', '--data_root', 'data/processed', '--datasets', 'MINE', '--out', 'data', '--folds', '2')
    return f"{msg} | files kept: {_files(src) == before} ({len(before)})"

def _c_infer_stem_clash(d):
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    _images(d, ['scan.png']); _img(d, 'in/scan.jpg', np.zeros((80, 90), np.uint8))
    recs = infer_images(list_images(image_dir=Path(d)/'in'), build_inference_model('transunet', 'tiny', model_checkpoint=_pipeline_ckpt(d)), Path(d)/'out')
    return f"masks: {sorted(Path(r['mask']).name for r in recs)}"

CASES += [
    Case('lost data', 'prepare reads a processed tree and writes over it', 'refused before anything is written; every input file kept',
         r"rc 2: .*prepare would write .*MINE over or inside the folder it reads.* files kept: True", _c_prepare_over_input),
    Case('lost data', 'inference inputs scan.png and scan.jpg', 'one mask per input (stem_ext names), none overwritten',
         r"masks: \['scan_jpg_mask\.png', 'scan_png_mask\.png'\]", _c_infer_stem_clash),
]

def _c_resplit(d):
    a = _tiny_loop(d, splits='digest-A'); a.fit([(torch.randn(4), torch.randn(1))] * 6)
    return _err(lambda: _tiny_loop(d, splits='digest-B').fit([(torch.randn(4), torch.randn(1))] * 6, resume=True))

def _c_changed_hparams(d):
    ds = [(torch.randn(4), torch.randn(1))] * 6
    _tiny_loop(d, lr=0.01, batch_size=1, seed=42).fit(ds); before = (Path(d)/'fold/metrics.json').read_bytes()
    msg = _err(lambda: _tiny_loop(d, lr=0.5, batch_size=8, seed=1).fit(ds, resume=True))
    return f"{msg} | metrics.json unchanged: {(Path(d)/'fold/metrics.json').read_bytes() == before}"

def _c_other_preset_resume(d):
    ds = [(torch.randn(4), torch.randn(1))] * 6
    _tiny_loop(d, preset='tiny').fit(ds)
    return _err(lambda: _tiny_loop(d, preset='small').fit(ds, resume=True))

def _c_force_restart(d):
    ds = [(torch.randn(4), torch.randn(1))] * 6
    _tiny_loop(d, lr=0.01).fit(ds); r = _tiny_loop(d, lr=0.02, force=True).fit(ds, resume=True)
    return f"trained {len(r['history'])} epochs; stored lr {json.loads((Path(d)/'fold/metrics.json').read_text())['config']['lr']}"

def _c_noop_rerun(d):
    ds = [(torch.randn(4), torch.randn(1))] * 6
    _tiny_loop(d, lr=0.01).fit(ds); before = (Path(d)/'fold/metrics.json').read_bytes()
    _tiny_loop(d, lr=0.01).fit(ds, resume=True)
    return f"metrics.json unchanged: {(Path(d)/'fold/metrics.json').read_bytes() == before}"

def _c_prepare_other_folds(d):
    _dataset(d); _prep(d)
    return _err(lambda: _prep(d, folds=3))

def _c_prepare_folds(n):
    def run(d): _dataset(d); return _err(lambda: _prep(d, folds=n))
    return run

def _c_noise_mask(d):
    root = _dataset(d)
    Image.fromarray((np.random.default_rng(0).random((40, 48)) > 0.5).astype(np.uint8) * 255).save(root/'masks/c4.png')
    return '; '.join(w for w in _prep(d).warnings if 'c4' in w)

def _c_inverted_mask(d):
    root = _dataset(d); m = np.full((40, 48), 255, np.uint8); m[0, 0] = 0; Image.fromarray(m).save(root/'masks/c5.png')
    return '; '.join(w for w in _prep(d).warnings if 'c5' in w)

def _c_busi_orphan_mask(d):
    from ultrarefiner.data.layouts import scan
    for i in range(3):
        m = np.zeros((40, 48), np.uint8); m[5:20, 8:25] = 255
        _img(d, f'B/benign/benign ({i}).png', np.full((40, 48), 80, np.uint8)); _img(d, f'B/benign/benign ({i})_mask.png', m)
    _img(d, 'B/benign/benign (9)_mask.png', np.zeros((40, 48), np.uint8))
    w = []; scan(Path(d)/'B', w)
    return '; '.join(w)

def _c_infer_into_input(d):
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    _images(d, ['a.png'])
    tu = build_inference_model('transunet', 'tiny', model_checkpoint=_pipeline_ckpt(d))
    return _err(lambda: infer_images(list_images(image_dir=Path(d)/'in'), tu, Path(d)/'in'))

def _c_infer_own_outputs(d):
    from ultrarefiner.inference.images import list_images
    _images(d, ['a.png', 'a_overlay.png', 'a_mask.png'])
    return f"inputs: {[p.name for p in list_images(image_dir=Path(d)/'in')]}"

def _c_infer_nan_model(d):
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    _images(d, ['a.png']); tu = build_inference_model('transunet', 'tiny', model_checkpoint=_pipeline_ckpt(d))
    with torch.no_grad(): next(tu.parameters()).fill_(float('nan'))
    msg = _err(lambda: infer_images(list_images(image_dir=Path(d)/'in'), tu, Path(d)/'out'))
    return f"{msg} | masks written: {len(list((Path(d)/'out').glob('*.png'))) if (Path(d)/'out').exists() else 0}"

def _c_nan_cache(d):
    import warnings
    from ultrarefiner.models.sam import EmbeddingCache, build_sam
    torch.manual_seed(0); sam = build_sam('tiny'); x = torch.rand(1, 3, 256, 256)
    c = EmbeddingCache(Path(d)/'cache', sam.image_encoder); good = c(x)
    f = next((Path(d)/'cache').rglob('*.pt')); torch.save(torch.full_like(good[0], float('nan')), f)
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); again = EmbeddingCache(Path(d)/'cache', sam.image_encoder)(x)
    return f"{'; '.join(str(m.message)[-70:] for m in w)} | finite: {bool(torch.isfinite(again).all())}, equal: {torch.allclose(again, good)}"

def _c_nan_loss_no_ckpt(d):
    from ultrarefiner.training.loop import Loop, poly_schedule
    m = torch.nn.Linear(4, 1); o = torch.optim.SGD(m.parameters(), lr=0.1)
    step = lambda m, b: (m(b[0]).sum() * float('nan'), {})
    lp = Loop(m, o, poly_schedule(o, 4), step, lambda m: {'dice': 0.0}, Path(d)/'fold', epochs=2, batch_size=3, verbose=False)
    return _err(lambda: lp.fit([(torch.randn(4), torch.randn(1))] * 6))

CASES += [
    Case('stale state', 'a fold trained, then the dataset re-split', 'refused: the fold records its splits digest',
         r"UltraRefinerError: .*holds a run with other settings \(splits: digest-A → digest-B\).*--force", _c_resplit),
    Case('stale state', 'rerun with other lr / batch / seed', 'refused, listing the changes; metrics.json untouched',
         r"holds a run with other settings \(batch_size: 1 → 8; lr: 0\.01 → 0\.5; seed: 42 → 1\).* metrics\.json unchanged: True", _c_changed_hparams),
    Case('stale state', 'resume with another preset', 'refused naming the preset change (no 140-line RuntimeError)',
         r"UltraRefinerError: .*preset: tiny → small", _c_other_preset_resume),
    Case('stale state', '--force after a change', 'the fold starts afresh and records the new settings', r"trained 2 epochs; stored lr 0\.02", _c_force_restart),
    Case('stale state', 'rerun of a finished fold, same settings', 'trains nothing and relabels nothing', r"metrics\.json unchanged: True", _c_noop_rerun),
    Case('stale state', 'prepare again with other --folds', 'refused: the existing splits.json has other folds',
         r"DataError: .*splits\.json already exists with other splits than asked: --folds 3 \(it has 2\)", _c_prepare_other_folds),
    Case('numeric input', 'prepare --folds 1', 'error: cross-validation needs ≥ 2 folds', r"DataError: --folds must be an integer ≥ 2.*got 1", _c_prepare_folds(1)),
    Case('numeric input', 'prepare --folds 0', 'error: cross-validation needs ≥ 2 folds', r"DataError: --folds must be an integer ≥ 2.*got 0", _c_prepare_folds(0)),
    Case('bad mask', 'pure-noise mask (half the pixels)', 'prepared, with a warning naming the file', r"c4\.png: mask looks like noise \(\d+ separate regions", _c_noise_mask),
    Case('bad mask', 'inverted mask (all foreground)', 'prepared, with a warning naming the file', r"c5\.png: mask covers 100% of the image.*inverted", _c_inverted_mask),
    Case('bad dataset folder', 'BUSI mask without its image', 'warning naming the mask', r"benign \(9\)_mask\.png: mask without an image", _c_busi_orphan_mask),
    Case('inference', 'output_dir = image_dir', 'refused (a second run would read its own overlays)', r"UltraRefinerError: .*is the folder of the input images", _c_infer_into_input),
    Case('inference', "the kit's own *_mask / *_overlay files in the input folder", 'never read as inputs', r"inputs: \['a\.png'\]$", _c_infer_own_outputs),
    Case('inference', 'a model that outputs NaN', 'error naming the images; no mask written', r"produced NaN/Inf for \S*a\.png.* masks written: 0", _c_infer_nan_model),
    Case('stale state', 'NaN-poisoned embedding cache entry', 'warned, recomputed; training sees finite embeddings', r"not finite \(NaN/Inf\) or incomplete; recomputed\. \| finite: True, equal: True", _c_nan_cache),
    Case('training', 'loss NaN before any checkpoint', 'error that does not claim a last.pth exists', r"UltraRefinerError: Loss became nan at step 1 .*no checkpoint was written yet", _c_nan_loss_no_ckpt),
]

def _c_out_is_file(d):
    _dataset(d); (Path(d)/'afile').write_text('x')
    return _cli(d, 'prepare', '--data_root', 'raw', '--datasets', 'D', '--out', 'afile/sub', '--folds', '2')

def _readonly(d, fn):
    "Run fn with every file open for writing under d failing as on a read-only file system (EROFS) — root ignores chmod."
    import builtins, errno
    real = builtins.open
    def ro(file, mode='r', *a, **k):
        if any(c in mode for c in 'wax') and str(file).startswith(str(d)): raise OSError(errno.EROFS, 'Read-only file system', str(file))
        return real(file, mode, *a, **k)
    builtins.open = ro
    try: return fn()
    finally: builtins.open = real

def _c_readonly_out(d):
    from ultrarefiner.io import atomic_write_bytes
    (Path(d)/'out').mkdir()
    return _readonly(Path(d)/'out', lambda: _err(lambda: atomic_write_bytes(Path(d)/'out'/'best.pth', b'x')))

def _c_enospc_prepare(d):
    import errno
    import ultrarefiner.data.layouts as data
    _dataset(d); real = data.png_bytes
    def full(a): raise OSError(errno.ENOSPC, 'No space left on device', 'c3.png')
    data.png_bytes = full
    try: msg = _cli(d, 'prepare', '--data_root', 'raw', '--datasets', 'D', '--folds', '2')
    finally: data.png_bytes = real
    return f"{msg} | left in raw/processed: {[p.name for p in (Path(d)/'raw'/'processed').iterdir()]}"

def _c_cli_flag(*args):
    return lambda d: _cli(d, *args)

def _c_device_cuda(d):
    if torch.cuda.is_available(): return 'skipped: this machine has a GPU'
    from ultrarefiner.runtime import get_device
    return _err(lambda: get_device('cuda'))

def _c_npz(kind):
    def run(d):
        from ultrarefiner.models.transunet import build_transunet, load_vit_npz, save_vit_npz
        p = save_vit_npz(build_transunet('tiny', img_size=64), Path(d)/'vit.npz')
        if kind == 'truncated': p.write_bytes(p.read_bytes()[:len(p.read_bytes()) // 2])
        else:
            z = dict(np.load(p)); k = next(k for k in z if z[k].ndim == 4); z[k] = z[k][..., 0]; np.savez(p, **z)
        return _err(lambda: load_vit_npz(build_transunet('tiny', img_size=64), p))
    return run

def _c_phase1_as_model(d):
    from ultrarefiner.inference.images import build_inference_model
    ck = _pipeline_ckpt(d, 'phase1')
    msg = _err(lambda: build_inference_model('full', 'tiny', model_checkpoint=ck))
    return f"{msg} | length {len(msg)}"

def _c_sam_keys_summary(d):
    from ultrarefiner.models.sam import build_sam, load_sam_weights
    torch.save(build_sam('lite', pretrained=False).state_dict(), Path(d)/'lite.pth')
    msg = _err(lambda: load_sam_weights(build_sam('tiny'), Path(d)/'lite.pth'))
    return f"{msg} | length {len(msg)}"

def _c_image_path_folder(d):
    _images(d, ['a.png']); ck = _pipeline_ckpt(d)
    return _cli(d, 'inference', '--mode', 'transunet', '--model_checkpoint', ck, '--image_path', 'in', '--output_dir', 'out')

def _c_readonly_infer(d):
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    _images(d, ['a.png']); tu = build_inference_model('transunet', 'tiny', model_checkpoint=_pipeline_ckpt(d)); (Path(d)/'out').mkdir()
    # the whole scratch read-only: inference writes its run beside `out` and publishes it whole (round 4), so a read-only
    # `out` alone would simply be replaced; a read-only file system is refused with its own message, nothing half-written
    return _readonly(Path(d), lambda: _err(lambda: infer_images(list_images(image_dir=Path(d)/'in'), tu, Path(d)/'out')))

def _c_infer_warnings(d):
    import warnings
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    _images(d, ['a.png']); m = build_inference_model('full', 'tiny', model_checkpoint=_pipeline_ckpt(d))
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter('always'); infer_images(list_images(image_dir=Path(d)/'in'), m, Path(d)/'out')
    return f"warnings: {[str(x.message)[:80] for x in w]}"

def _c_stale_temps(d):
    import subprocess, sys
    from ultrarefiner.io import atomic_write_bytes
    dead = subprocess.run([sys.executable, '-c', 'import os; print(os.getpid())'], capture_output=True, text=True).stdout.strip()
    for i in range(8): (Path(d)/f'.best.pth.{dead}-{i:08x}.tmp').write_bytes(b'x' * 1000)
    atomic_write_bytes(Path(d)/'best.pth', b'new')
    return f"files: {sorted(p.name for p in Path(d).iterdir())}"

def _c_folder_mode(d):
    _dataset(d); _prep(d)
    return f"mode {oct((Path(d)/'out/processed/D').stat().st_mode & 0o777)}, umask {oct(0o777 & ~_current_umask())}"

CASES += [
    Case('unwritable output', '--out below a file', 'a sentence naming the path, rc 2', r"rc 2: .*Could not create .*afile.*Choose another output folder", _c_out_is_file),
    Case('unwritable output', 'read-only output folder (EROFS)', 'error naming the file and the real cause', r"UltraRefinerError: Could not write .*best\.pth: Read-only file system", _c_readonly_out),
    Case('unwritable output', 'disk full (ENOSPC) during prepare', 'a sentence, rc 2, no temp folder left', r"rc 2: .*No space left on device.*left in raw/processed: \[\]", _c_enospc_prepare),
    Case('unwritable output', 'read-only inference output_dir', 'the EROFS message, not a cleanup error', r"UltraRefinerError: Could not write .*a_mask\.png: Read-only file system", _c_readonly_infer),
    Case('numeric input', 'train-transunet --max_epochs 0', 'parse-time error naming the flag', r"rc 2: .*argument --max_epochs/--epochs: must be positive, got 0", _c_cli_flag('train-transunet', '--max_epochs', '0')),
    Case('numeric input', 'train-transunet --max_epochs -1', 'parse-time error (not "best.pth does not exist")', r"rc 2: .*--max_epochs/--epochs: must be positive, got -1", _c_cli_flag('train-transunet', '--max_epochs', '-1')),
    Case('numeric input', 'finetune-sam --batch_size 0', 'parse-time error naming the flag', r"rc 2: .*argument --batch_size: must be positive, got 0", _c_cli_flag('finetune-sam', '--batch_size', '0')),
    Case('numeric input', 'inference --batch_size -1', 'parse-time error (no silent 0 masks)', r"rc 2: .*argument --batch_size: must be positive, got -1", _c_cli_flag('inference', '--batch_size', '-1')),
    Case('numeric input', 'phantoms --n -5', 'parse-time error', r"rc 2: .*argument --n: must be positive, got -5", _c_cli_flag('phantoms', '--n', '-5')),
    Case('numeric input', 'phantoms --height 0', 'parse-time error', r"rc 2: .*argument --height: must be positive, got 0", _c_cli_flag('phantoms', '--height', '0')),
    Case('numeric input', 'bench --batch 0', 'parse-time error', r"rc 2: .*argument --batch/--batch_size: must be positive, got 0", _c_cli_flag('bench', '--batch', '0')),
    Case('numeric input', 'bench --modes bogus', 'parse-time error listing the modes', r"rc 2: .*invalid choice: 'bogus' \(choose from 'encoder'", _c_cli_flag('bench', '--modes', 'bogus')),
    Case('numeric input', 'prepare --test_frac 1.5', 'parse-time error', r"rc 2: .*--test_frac: must be between 0 and 1, got 1\.5", _c_cli_flag('prepare', '--datasets', 'D', '--test_frac', '1.5')),
    Case('numeric input', 'finetune-sam --base_lr 0', 'parse-time error', r"rc 2: .*--base_lr: must be positive, got 0", _c_cli_flag('finetune-sam', '--base_lr', '0')),
    Case('numeric input', '--num_workers -2', 'parse-time error', r"rc 2: .*--num_workers: must be ≥ 0, got -2", _c_cli_flag('train-transunet', '--num_workers', '-2')),
    Case('option combination', '--sam_model_type garbage', 'error naming the flag and the choices', r"rc 2: .*garbage", _c_cli_flag('finetune-sam', '--sam_model_type', 'garbage', '--dry_run')),
    Case('option combination', '--device cuda on a machine without a GPU', 'error saying no CUDA device is visible', r"UltraRefinerError: --device cuda asked for a GPU, but PyTorch sees no CUDA device", _c_device_cuda),
    Case('bad checkpoint', '.npz with a wrong-rank kernel', 'error listing the mis-shaped key', r"CheckpointError: .*1 shape mismatches .*cannot become model", _c_npz('rank')),
    Case('bad checkpoint', 'truncated .npz', 'error: damaged or truncated, download again', r"CheckpointError: .*vit\.npz: not a readable \.npz .*truncated", _c_npz('truncated')),
    Case('bad checkpoint', 'phase-1 checkpoint as --model_checkpoint', 'error naming the file and what it looks like, short',
         r"phase1\.pth does not fit SAM 'tiny': it looks like a phase-1 TransUNet checkpoint.* length (\d{2,3}|1[0-4]\d\d)$", _c_phase1_as_model),
    Case('bad checkpoint', 'LiteMedSAM weights into another SAM type', 'a summary (counts, first keys, what it looks like), not a 13 KB wall',
         r"lite\.pth does not fit SAM 'tiny': it looks like LiteMedSAM weights.*missing keys: \d+ \(.*, …\).* length (\d{2,3}|1[0-4]\d\d)$", _c_sam_keys_summary),
    Case('inference', '--image_path pointing at a folder', 'error: pass it as --image_dir', r"rc 2: .*--image_path in is a folder; pass it as --image_dir", _c_image_path_folder),
    Case('noise', 'warnings during inference', 'none (no "non-writable NumPy array" warning)', r"warnings: \[\]$", _c_infer_warnings),
    Case('crash', "temp files of killed writers", 'removed by the next write to that folder', r"files: \['best\.pth'\]$", _c_stale_temps),
    Case('crash', 'processed folder permissions', "a normal folder's mode (not mkdtemp's 0700)", r"mode (0o\d+), umask \1", _c_folder_mode),
]

def _refine_case(d, coarse, image_hw=(471, 562), *flags, gt=False) -> str:
    "Run `ultrarefiner refine` on one phantom scan with the given coarse mask: 'rc N: …' plus the prompts.json record."
    from ultrarefiner.data.phantom import make_phantom
    im, (g,) = make_phantom(np.random.default_rng(5), 'benign', image_hw)
    _img(d, 'img/scan.png', im); (Path(d)/'co').mkdir(exist_ok=True); np.save(Path(d)/'co'/'scan.npy', coarse)
    args = ['refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch', *flags]
    if gt: _img(d, 'gt/scan.png', g.astype(np.uint8) * 255); args += ['--gt_dir', 'gt']
    msg = _cli(d, *args)
    pj = Path(d)/'out'/'prompts.json'
    if not pj.exists(): return f"{msg} | written: {sorted(p.name for p in (Path(d)/'out').glob('*'))}"
    r = json.loads(pj.read_text())['images'][0]
    keys = ('empty_coarse', 'iou_prediction', 'box', 'refined_fraction', 'coarse_size', 'coarse_fit')
    return msg.split(':')[0] + ': ' + ', '.join(f"{k} {r[k]}" for k in keys)

def _c_refine_empty(d): return _refine_case(d, np.zeros((471, 562), np.float32))

def _c_refine_near_empty(d):
    c = np.zeros((471, 562), np.float32); c[200, 300:303] = 0.9         # three stray pixels: 0.001 % of the image
    return _refine_case(d, c)

def _c_refine_empty_table(d):
    _refine_case(d, np.zeros((471, 562), np.float32), gt=True)
    return (Path(d)/'out'/'metrics.md').read_text().strip().splitlines()[-1]

def _c_refiner_empty_batch(d):
    from ultrarefiner.models.refiner import SAMRefiner
    from ultrarefiner.models.sam import build_sam
    torch.manual_seed(0); r = SAMRefiner(build_sam('tiny')).eval()
    p = torch.zeros(2, 64, 64); p[0, 10:40, 10:40] = 0.9
    with torch.no_grad(): o = r(torch.rand(2, 3, 256, 256), p)
    return (f"empty {o['empty'].tolist()}; image 1: max logit {float(o['masks'][1].max()):g}, IoU prediction {float(o['iou'][1]):g}; "
            f"image 0 refined pixels {int((o['masks'][0] > 0).sum())}")

def _c_infer_empty(d):
    from ultrarefiner.inference.images import build_inference_model, infer_images, list_images
    ck = _pipeline_ckpt(d); m = build_inference_model('full', 'tiny', model_checkpoint=ck)
    with torch.no_grad():                                                  # a coarse model that finds nothing
        m.transunet.seg_head.weight.zero_(); m.transunet.seg_head.bias.copy_(torch.tensor([10., -10.]))
    r = infer_images(list_images(image_dir=_images(d, ['a.png'])), m, Path(d)/'out')[0]
    return f"empty_coarse {r['empty_coarse']}, iou_prediction {r['iou_prediction']}, box {r['box']}, foreground {r['foreground_fraction']}"

def _c_refine_user_box(d):
    (Path(d)/'boxes.csv').write_text('image,x0,y0,x1,y1\nscan.png,150,120,420,360\n')
    return _refine_case(d, np.zeros((471, 562), np.float32), (471, 562), '--boxes', 'boxes.csv')

def _c_refine_other_aspect(d): return _refine_case(d, np.ones((100, 100), np.float32))

def _c_refine_half_res(d):
    c = np.zeros((236, 281), np.float32); c[80:150, 100:180] = 1; return _refine_case(d, c)

def _c_refine_stretch(d): return _refine_case(d, np.ones((100, 100), np.float32), (471, 562), '--stretch_coarse')

def _c_refine_gt_size(d):
    from ultrarefiner.inference.masks import refine_folder
    _img(d, 'img/a.png', np.zeros((40, 60), np.uint8)); _img(d, 'img/b.png', np.zeros((40, 60), np.uint8))
    for n in 'ab': _img(d, f'co/{n}.png', np.zeros((40, 60), np.uint8)); _img(d, f'gt/{n}.png', np.zeros((40, 60) if n == 'a' else (30, 30), np.uint8))
    msg = _err(lambda: refine_folder(Path(d)/'img', Path(d)/'co', Path(d)/'out', gt_dir=Path(d)/'gt', verbose=False))
    return f"{msg} | written: {sorted(p.name for p in (Path(d)/'out').glob('*'))}"

def _c_processed_pair_size(d):
    from ultrarefiner.data.datasets import TransUNetDataset
    _dataset(d); _prep(d); root = Path(d)/'out/processed/D'
    m = next(root.rglob('masks/c0.png')); Image.fromarray(np.zeros((20, 20), np.uint8)).save(m)
    return _err(lambda: TransUNetDataset(root, ['c0'], 64)[0])

def _mask_case(d, mask):
    "prepare with c0's mask replaced by `mask`: the error, or the manifest's counts for c0."
    root = _dataset(d); Image.fromarray(mask).save(root/'masks/c0.png')
    msg = _err(lambda: _prep(d))
    if not msg.startswith('no error'): return msg
    row = next(r for r in (Path(d)/'out/processed/D/manifest.csv').read_text().splitlines() if r.startswith('c0,'))
    src, out = row.split(',')[3:5]
    return f"source_foreground_px {src}, processed_foreground_px {out}"

def _c_label_map(d):
    m = np.zeros((40, 48), np.uint8); m[5:15, 5:15] = 1; m[25:35, 25:40] = 2; return _mask_case(d, m)

def _c_dim_lesion(d):
    m = np.zeros((40, 48), np.uint8); m[5:15, 5:15] = 255; m[25:35, 25:40] = 100; return _mask_case(d, m)

def _c_la_alpha(d):
    la = np.zeros((40, 48, 2), np.uint8); la[8:20, 10:30, 1] = 255; return _mask_case(d, la)

def _c_soft_rim(d):
    m = np.zeros((40, 48), np.uint8); m[10:30, 10:30] = 255; m[9, 10:30] = 90; return _mask_case(d, m)

def _c_thin_lesion(d):
    from ultrarefiner.data.datasets import TransUNetDataset
    root = _dataset(d); m = np.zeros((400, 480), np.uint8); m[100:300, 243] = 255     # between two nearest-neighbour samples
    _img(d, 'raw/D/images/thin.png', np.full((400, 480), 80, np.uint8)); Image.fromarray(m).save(root/'masks/thin.png')
    _prep(d)
    return f"thin lesion: {int(TransUNetDataset(Path(d)/'out/processed/D', ['thin'], 64)[0]['mask'].sum())} pixels at 64×64"

CASES += [
    Case('never invent', 'refine: all-zero coarse mask', 'empty refined mask, no box, no IoU claim (was: a 53 % mask, IoU 0.93)',
         r"^rc 0: empty_coarse True, iou_prediction None, box None, refined_fraction 0\.0", _c_refine_empty),
    Case('never invent', 'refine: three stray coarse pixels', 'empty: below 0.05 % of the frame', r"^rc 0: empty_coarse True, iou_prediction None, box None, refined_fraction 0\.0", _c_refine_near_empty),
    Case('never invent', 'refine --gt_dir with an empty coarse mask', 'the table counts it', r"^1 of 1 image had an empty coarse mask: refined left empty", _c_refine_empty_table),
    Case('never invent', 'SAMRefiner batch with an empty coarse mask', 'that image empty (phases 2/3, evaluation), the other refined',
         r"empty \[False, True\]; image 1: max logit -20, IoU prediction 0; image 0 refined pixels [1-9]", _c_refiner_empty_batch),
    Case('never invent', 'inference: the coarse model finds nothing', 'empty mask, empty_coarse in prompts.json',
         r"empty_coarse True, iou_prediction None, box None, foreground 0\.0", _c_infer_empty),
    Case('never invent', 'refine --boxes for an empty coarse mask', 'zero-shot from your box (the explicit option)',
         r"^rc 0: empty_coarse False, iou_prediction 0\.\d+, box \[150\.0, 120\.0, 420\.0, 360\.0\], refined_fraction 0\.\d*[1-9]", _c_refine_user_box),
    Case('never stretch', 'refine: 100×100 coarse mask for a 562×471 scan', 'error naming both files and sizes, nothing written',
         r"rc 2: .*scan\.npy: coarse mask is 100×100 but its image .*scan\.png is 562×471 — another aspect.*--stretch_coarse.* \| written: \[\]", _c_refine_other_aspect),
    Case('never stretch', 'refine: coarse mask at half resolution', 'resized (same aspect), recorded', r"^rc 0: .*coarse_size \[281, 236\], coarse_fit resized", _c_refine_half_res),
    Case('never stretch', 'refine --stretch_coarse', 'stretched on request, recorded per image', r"^rc 0: .*coarse_size \[100, 100\], coarse_fit stretched", _c_refine_stretch),
    Case('never stretch', 'refine: ground truth of another size (2nd image)', 'error before any output is written',
         r"DataError: .*b\.png: ground truth is 30×30 but its image .*b\.png is 60×40.* \| written: \[\]", _c_refine_gt_size),
    Case('never stretch', 'processed folder: mask of another size than its image', 'error naming both files', r"DataError: .*c0\.png: mask is 20×20 but its image .*c0\.png is 48×40", _c_processed_pair_size),
    Case('never drop', 'label-map mask {0, 1, 2}', 'error listing the values and how each was read',
         r"DataError: .*c0\.png: mask values 0 \(1670 px\), 1 \(100 px\), 2 \(150 px\)\. Foreground is read as values above 1.*100 pixels of value 1", _c_label_map),
    Case('never drop', 'a dimmer second lesion (100 in a 0/255 mask)', 'error: the dim region would be dropped', r"DataError: .*c0\.png: mask values .*150 pixels of value 100", _c_dim_lesion),
    Case('never drop', 'LA mask drawn in its alpha channel', 'read from the alpha; every pixel kept', r"source_foreground_px 240, processed_foreground_px 240$", _c_la_alpha),
    Case('never drop', 'anti-aliased rim (90 in a 0/255 mask)', 'the rim is soft edge; the manifest shows the difference', r"source_foreground_px 420, processed_foreground_px 400$", _c_soft_rim),
    Case('never drop', 'a 1-pixel-wide lesion resized to 64×64', 'kept (its best-covered pixels)', r"thin lesion: [1-9]\d* pixels at 64×64", _c_thin_lesion),
]


# ---- round 4: one reader for every command, one run per folder, splits checked everywhere, never delete the user's files ----

def _lesion(hw=(120, 150)):
    from ultrarefiner.data.phantom import make_phantom
    im, (g,) = make_phantom(np.random.default_rng(7), 'benign', hw)
    return im, g

def _refine_read(d, coarse_file, gt_file=None) -> str:
    "refine one phantom scan with the given coarse (and ground-truth) file: 'rc N: …' and what was read."
    im, g = _lesion(); _img(d, 'img/scan.png', im)
    (Path(d)/'co').mkdir(exist_ok=True); (Path(d)/'gt').mkdir(exist_ok=True)
    coarse_file(Path(d)/'co', g)
    args = ['refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch']
    if gt_file: gt_file(Path(d)/'gt', g); args += ['--gt_dir', 'gt']
    msg = _cli(d, *args); pj = Path(d)/'out'/'prompts.json'
    if not pj.exists(): return msg
    r = json.loads(pj.read_text())['images'][0]
    out = f"rc 0: empty_coarse {r['empty_coarse']}, coarse_fraction {r['coarse_fraction']:.4f} (true {g.mean():.4f})"
    return out + (f", coarse Dice {r['coarse_dice']:.4f}" if gt_file else '')

def _png(name, conv):
    return lambda folder, g: Image.fromarray(conv(g)).save(folder/name)

def _c_refine_label_map(kind):
    def run(d):
        def two_labels(folder, g):
            lab = g.astype(np.uint8).copy(); lab[5:25, 5:30] = 2                  # a second labelled region
            (np.save(folder/'scan.npy', lab) if kind == 'npy' else Image.fromarray(lab).save(folder/'scan.png'))
        return _refine_read(d, two_labels)
    return run

def _c_refine_16bit_1000(d): return _refine_read(d, _png('scan.png', lambda g: g.astype(np.uint16) * 1000))

def _c_refine_gt_label01(d):
    return _refine_read(d, _png('scan.png', lambda g: g.astype(np.uint8) * 255), _png('scan.png', lambda g: g.astype(np.uint8)))

def _c_refine_busi_second_lesion(d):
    def gt(folder, g):                                  # BUSI: the lesion's mask split across x_mask.png and x_mask_1.png
        a, b = g.copy(), g.copy(); a[:, g.shape[1] // 2:] = False; b[:, :g.shape[1] // 2] = False
        Image.fromarray(a.astype(np.uint8) * 255).save(folder/'scan_mask.png'); Image.fromarray(b.astype(np.uint8) * 255).save(folder/'scan_mask_1.png')
    return _refine_read(d, _png('scan.png', lambda g: g.astype(np.uint8) * 255), gt)

def _c_infer_busi_class_folder(d):
    from ultrarefiner.inference.images import list_images
    im, g = _lesion()
    for n in ('benign (1).png', 'benign (2).png'): _img(d, f'benign/{n}', im)
    for n in ('benign (1)_mask.png', 'benign (1)_mask_1.png', 'benign (2)_mask.png'): _img(d, f'benign/{n}', g.astype(np.uint8) * 255)
    return f"inputs: {[p.name for p in list_images(image_dir=Path(d)/'benign')]}"

def _c_refine_rerun(d):
    _refine_read(d, _png('scan.png', lambda g: g.astype(np.uint8) * 255), _png('scan.png', lambda g: g.astype(np.uint8) * 255))
    first = sorted(p.name for p in (Path(d)/'out').iterdir())
    msg = _cli(d, 'refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch')
    return f"{msg.split(':')[0]}: first run {first}; after a second run without --gt_dir {sorted(p.name for p in (Path(d)/'out').iterdir())}"

def _c_refine_killed(d):
    import ultrarefiner.inference.masks as M
    im, g = _lesion()
    for k in range(3): _img(d, f'img/s{k}.png', im); _img(d, f'co/s{k}.png', g.astype(np.uint8) * 255)
    M.refine_folder(Path(d)/'img', Path(d)/'co', Path(d)/'out', verbose=False, batch_size=1, encoder_runtime='torch')
    before = {p.name: p.read_bytes() for p in (Path(d)/'out').iterdir()}
    for k in range(3): _img(d, f'co/s{k}.png', np.zeros_like(g, np.uint8))         # new coarse masks, then a kill mid-run
    real, calls = M.read_scan, []
    def dying(p):
        calls.append(p)
        if len(calls) == 2: raise KeyboardInterrupt('killed')
        return real(p)
    M.read_scan = dying
    try: M.refine_folder(Path(d)/'img', Path(d)/'co', Path(d)/'out', verbose=False, batch_size=1, encoder_runtime='torch')
    except KeyboardInterrupt: pass
    finally: M.read_scan = real
    after = {p.name: p.read_bytes() for p in (Path(d)/'out').iterdir()}
    listed = [Path(r['refined']).name for r in json.loads(after['prompts.json'])['images']]
    kept = [re.sub(r'-[0-9a-f]{16}$', '-KEY', p.name) for p in Path(d).iterdir() if p.name.startswith('.out')]
    again = M.refine_folder(Path(d)/'img', Path(d)/'co', Path(d)/'out', verbose=False, batch_size=1, encoder_runtime='torch')
    return (f"after the kill: the first run's files {'unchanged' if after == before else 'CHANGED'}; prompts.json lists "
            f"{listed}, all on disk: {all(n in after for n in listed)}; kept beside: {kept}; the same command again: "
            f"{again['resumed']} of {again['n']} resumed, leftovers: {[p.name for p in Path(d).iterdir() if p.name.startswith('.out')]}")

def _trained_phantoms(d, phase3=False):
    "Two tiny folds (one epoch), out-of-fold masks and phase 2 of fold 0 (phase 3 too when asked): a trained project in `d`."
    from ultrarefiner.data.phantom import write_phantoms
    from ultrarefiner.data.layouts import prepare
    from ultrarefiner.training.phases import oof, phase1, phase2, phase3 as p3
    cwd = os.getcwd(); os.chdir(d)
    try:
        write_phantoms('data', n=16, seed=0, size=(64, 80)); prepare('data', ['PHANTOM'], folds=2, verbose=False)
        for k in (0, 1): phase1('PHANTOM', k, preset='tiny', epochs=1, verbose=False)
        oof('PHANTOM', verbose=False); phase2('PHANTOM', 0, preset='tiny', epochs=1, verbose=False)
        if phase3: p3('PHANTOM', 0, preset='tiny', epochs=1, verbose=False)
    finally: os.chdir(cwd)

def _swap_test_image(d) -> str:
    "Swap the first test image with the first training image of fold 0, in every fold (a hand edit after training)."
    p = Path(d)/'data/processed/PHANTOM/splits.json'; sp = json.loads(p.read_text())
    t, v = sp['test'][0], sp['folds'][0]['train'][0]; swap = lambda names: [t if n == v else v if n == t else n for n in names]
    sp['test'] = swap(sp['test']); sp['folds'] = [{k: swap(f[k]) for k in f} for f in sp['folds']]
    p.write_text(json.dumps(sp)); return t

def _c_split_edited(command):
    def run(d):
        _trained_phantoms(d, phase3=command == 'evaluate')
        t = _swap_test_image(d)
        args = {'evaluate': ['evaluate', '--datasets', 'PHANTOM', '--folds', '0', '1'],
                'train-e2e': ['train-e2e', '--datasets', 'PHANTOM', '--fold', '0', '--max_epochs', '1'],
                'inference --folds': ['inference', '--dataset', 'PHANTOM', '--folds', 'all', '--image_dir', 'data/PHANTOM/benign', '--output_dir', 'inf']}[command]
        msg = _cli(d, *args)
        return msg + f" | moved image named: {t in msg}"
    return run

def _c_phantoms_onto_user_folder(d):
    _img(d, 'data/MINE/benign/benign (1).png', np.full((20, 20), 9, np.uint8)); (Path(d)/'data/MINE/notes.txt').write_text('my notes')
    msg = _cli(d, 'phantoms', '--out', 'data', '--name', 'MINE', '--n', '4')
    kept = (Path(d)/'data/MINE/notes.txt').exists() and np.asarray(Image.open(Path(d)/'data/MINE/benign/benign (1).png')).max() == 9
    return f"{msg} | the user's files kept: {kept}"

def _c_inference_onto_user_folder(d):
    _img(d, 'img/a.png', _lesion()[0]); (Path(d)/'results').mkdir(); (Path(d)/'results/report.docx').write_text('mine')
    from ultrarefiner.models.refiner import build_ultrarefiner
    torch.manual_seed(0); save_checkpoint({'model': build_ultrarefiner('tiny').state_dict()}, Path(d)/'m.pth')
    msg = _cli(d, 'inference', '--mode', 'transunet', '--preset', 'tiny', '--model_checkpoint', 'm.pth', '--image_dir', 'img', '--output_dir', 'results')
    return f"{msg} | kept: {sorted(p.name for p in (Path(d)/'results').iterdir())}"

def _c_refine_suspicious(d):
    im, g = _lesion(); _img(d, 'img/flat.png', np.full(g.shape, 30, np.uint8)); _img(d, 'img/scan.png', im)
    _img(d, 'co/flat.png', g.astype(np.uint8) * 255); _img(d, 'co/scan.png', np.full(g.shape, 255, np.uint8))
    msg = _cli(d, 'refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch')
    w = json.loads((Path(d)/'out/prompts.json').read_text())['warnings']
    return f"{msg.split(':')[0]}: warnings in prompts.json: {w}"

def _c_refine_many_problems(d):
    im, g = _lesion(); m = g.astype(np.uint8) * 255
    for n in ('ok', 'wide', 'lonely'): _img(d, f'img/{n}.png', im)
    (Path(d)/'img/junk.png').write_bytes(b'not an image'); _img(d, 'co/junk.png', m)
    _img(d, 'co/ok.png', m); _img(d, 'co/wide.png', m[:, :60])
    msg = _cli(d, 'refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch')
    return f"{msg.split(chr(10))[0]} {[x.split(': ')[0].rsplit('/', 1)[-1] for x in msg.split(chr(10) + '- ')[1:]]} | out written: {(Path(d)/'out').exists()}"

def _c_segment_odd_folder(d):
    im, _ = _lesion(); _img(d, 'scans/scan.png', im); _img(d, 'scans/thumb.png', im[:12, :16])
    Image.fromarray(im).save(Path(d)/'scans/cine.tif', save_all=True, append_images=[Image.fromarray(im[:, ::-1])])
    os.symlink(Path(d)/'archive/old.png', Path(d)/'scans/old.png')                  # a link whose target was moved
    msg = _cli(d, 'segment', '--image_dir', 'scans', '--output_dir', 'out', '--tta', 'none', '--encoder_runtime', 'torch')
    s = json.loads((Path(d)/'out/segment.json').read_text())
    return (f"{msg.split(':')[0]}: frames {[r['name'] for r in s['images']]}; skipped {[(Path(x['file']).name, x['why'].split(': ', 1)[1]) for x in s['skipped']]}; "
            f"warnings {s['warnings']}")

def _c_segment_blank(d):
    im, _ = _lesion(); _img(d, 'scans/scan.png', im); _img(d, 'scans/flat.png', np.full_like(im, 30))
    Image.fromarray(im).save(Path(d)/'scans/cine.tif', save_all=True, append_images=[Image.fromarray(np.zeros_like(im))])   # frame 1 blank
    msg = _cli(d, 'segment', '--image_dir', 'scans', '--output_dir', 'out', '--tta', 'none', '--encoder_runtime', 'torch')
    s = json.loads((Path(d)/'out/segment.json').read_text())
    import csv
    rows = list(csv.DictReader(open(Path(d)/'out/lesions.csv')))
    return (f"{msg.split(':')[0]}: coarse empty {[r['name'] for r in s['images'] if r['coarse_empty']]}; "
            f"lesions in the blanks {[r['image'] for r in rows if r['image'] in ('flat', 'cine_frame001') and int(r['area_px'])]}; warnings {s['warnings']}")

def _c_inference_transunet_blank(d):
    im, _ = _lesion(); _img(d, 'img/scan.png', im); _img(d, 'img/flat.png', np.full_like(im, 30))
    from ultrarefiner.models.refiner import build_ultrarefiner
    torch.manual_seed(0); save_checkpoint({'model': build_ultrarefiner('tiny').state_dict()}, Path(d)/'m.pth')
    msg = _cli(d, 'inference', '--mode', 'transunet', '--preset', 'tiny', '--model_checkpoint', 'm.pth', '--image_dir', 'img', '--output_dir', 'out')
    fg = {n: int((np.array(Image.open(Path(d)/f'out/{n}_mask.png')) > 0).sum()) for n in ('flat', 'scan')}
    return f"{msg.split(':')[0]}: foreground px {fg}"

def _c_exif_pair(d):
    root = _dataset(d); img = np.random.default_rng(1).integers(0, 255, (30, 50), dtype=np.uint8)   # stored 50×30, shown 30×50
    pil = Image.fromarray(img); ex = pil.getexif(); ex[0x0112] = 6; pil.save(root/'images/rot.jpg', exif=ex.tobytes(), quality=95)
    m = np.zeros((50, 30), np.uint8); m[10:30, 5:20] = 255; _img(d, 'raw/D/masks/rot.png', m)      # drawn on the image as shown
    rep = _prep(d)
    from ultrarefiner.data.files import read_image
    return f"kept {rep.n_kept}; rot image as written: {read_image(Path(d)/'out/processed/D'/('test' if 'rot' in json.loads((Path(d)/'out/processed/D/splits.json').read_text())['test'] else 'train')/'images/rot.png').shape}"

def _c_dicom_and_pages_outside_segment(d):
    from ultrarefiner.data.scans import write_test_dicom
    im, g = _lesion(); _img(d, 'img/scan.png', im); write_test_dicom(Path(d)/'img/us.dcm', im[None])
    Image.fromarray(im).save(Path(d)/'img/cine.tif', save_all=True, append_images=[Image.fromarray(im[:, ::-1])])
    for n, m in (('scan', g), ('us', g), ('cine_frame000', g), ('cine_frame001', g[:, ::-1])): _img(d, f'co/{n}.png', m.astype(np.uint8) * 255)
    a = _cli(d, 'refine', '--image_dir', 'img', '--coarse_dir', 'co', '--output_dir', 'out', '--encoder_runtime', 'torch')
    refined = sorted(p.name for p in (Path(d)/'out').glob('*_refined.png'))
    b = _cli(d, 'inference', '--image_dir', 'img', '--model_checkpoint', str(_pipeline_ckpt(d)), '--output_dir', 'inf')
    masks = sorted(p.name for p in (Path(d)/'inf').glob('*_mask.png'))
    return f"{a.split(':')[0]}: refined {refined} | {b.split(':')[0]}: masks {masks}"

CASES += [
    Case('one reader', 'refine: coarse label map with two labels (PNG)', 'error naming the values, as prepare (was: read as empty)',
         r"rc 2: .*scan\.png: mask values 0 .*1 .*2 .*would be dropped", _c_refine_label_map('png')),
    Case('one reader', 'refine: coarse label map with two labels (.npy)', 'error naming the values, as prepare (was: read as empty)',
         r"rc 2: .*scan\.npy: mask values 0 .*1 .*2 .*would be dropped", _c_refine_label_map('npy')),
    Case('one reader', 'refine: 16-bit {0, 1000} coarse mask', 'read as the mask it is (was: empty)',
         r"^rc 0: empty_coarse False, coarse_fraction (0\.\d+) \(true \1\)", _c_refine_16bit_1000),
    Case('one reader', 'refine --gt_dir: a {0, 1} label-map ground truth', 'an exact coarse mask scores 1 (was: 0)',
         r"^rc 0: .*coarse Dice 1\.0000$", _c_refine_gt_label01),
    Case('one reader', "refine --gt_dir on BUSI's folder: x_mask.png + x_mask_1.png", 'both files merged: an exact coarse mask scores 1 (was: 0.339)',
         r"^rc 0: .*coarse Dice 1\.0000$", _c_refine_busi_second_lesion),
    Case('one reader', 'inference on a BUSI class folder', 'x_mask and x_mask_N files are masks, not scans',
         r"^inputs: \['benign \(1\)\.png', 'benign \(2\)\.png'\]$", _c_infer_busi_class_folder),
    Case('one reader', 'JPEG scan rotated by its EXIF tag, mask drawn as shown', 'read as a viewer shows it: the pair fits',
         r"^kept 9; rot image as written: \(50, 30\)$", _c_exif_pair),
    Case('one run per folder', 'refine twice into one folder (the second without --gt_dir)', "the first run's metrics are gone",
         r"^rc 0: first run \[.*'metrics\.json'.*\]; after a second run without --gt_dir \['\.ultrarefiner', 'prompts\.json', 'scan_overlay\.png', 'scan_refined\.png'\]$", _c_refine_rerun),
    Case('one run per folder', 'refine killed half-way through a rerun', "the finished run stays whole, its records match its files; the finished images are kept and a rerun goes on",
         r"^after the kill: the first run's files unchanged; prompts\.json lists \['s0_refined\.png', 's1_refined\.png', 's2_refined\.png'\], all on disk: True; kept beside: \['\.out\.partial-KEY'\]; the same command again: 1 of 3 resumed, leftovers: \[\]$", _c_refine_killed),
    Case('splits checked everywhere', 'splits.json edited after training → evaluate', 'error naming the folder and the images that moved',
         r"rc 2: .*(was|were) trained on another split than .*splits\.json has now: .*test → train.*--force.* \| moved image named: True$", _c_split_edited('evaluate')),
    Case('splits checked everywhere', 'splits.json edited after training → train-e2e', 'error before training (was: rc 0)',
         r"rc 2: .*(was|were) trained on another split than .*splits\.json has now: .*phase 3 would start from models.* \| moved image named: True$", _c_split_edited('train-e2e')),
    Case('splits checked everywhere', 'splits.json edited after training → inference --folds', 'error naming the images that moved',
         r"rc 2: .*(was|were) trained on another split than .*splits\.json has now: .* \| moved image named: True$", _c_split_edited('inference --folds')),
    Case('never delete', 'phantoms --name X onto a folder of the user\'s files', 'refused; notes.txt and benign (1).png kept (was: deleted)',
         r"rc 2: .*MINE holds files the kit did not write.* \| the user's files kept: True$", _c_phantoms_onto_user_folder),
    Case('never delete', 'inference --output_dir holding a user\'s report', 'refused before any work; the file kept',
         r"rc 2: .*results holds files the kit did not write \(report\.docx\).* \| kept: \['report\.docx'\]$", _c_inference_onto_user_folder),
    Case('suspicious input', 'segment: a broken link, a two-page TIFF and a 16×12 thumbnail among the scans',
         'the link reported by name (was: passed over in silence), each TIFF page a frame (was: page 1 only), the thumbnail warned; the rest segmented',
         r"^rc 0: frames \['cine_frame000', 'cine_frame001', 'scan', 'thumb'\]; skipped \[\('old\.png', 'a link to .*old\.png, which does not exist.*'\)\]; "
         r"warnings \[.*thumb\.png: only 16×12 pixels: too small to be a scan.*\]$", _c_segment_odd_folder),
    Case('suspicious input', 'refine / inference: a DICOM and a two-page TIFF among the images',
         'every frame refined from its own coarse mask and segmented, named as segment names it '
         '(was: the DICOM refused, segment named as the command that reads it; the TIFF read on its first page only)',
         r"^rc 0: refined \['cine_frame000_refined\.png', 'cine_frame001_refined\.png', 'scan_refined\.png', 'us_refined\.png'\] \| "
         r"rc 0: masks \['cine_frame000_mask\.png', 'cine_frame001_mask\.png', 'scan_mask\.png', 'us_mask\.png'\]$", _c_dicom_and_pages_outside_segment),
    Case('suspicious input', 'refine: an unreadable scan, a scan without coarse mask and a coarse mask of another aspect',
         'one error listing all three before anything is written (was: the first one only, one rerun per problem)',
         r"^rc 2: .*3 problems with the inputs \(nothing was written\); fix each: \['1 image\(s\) in img have no coarse mask in co', 'junk\.png', 'wide\.png'\] \| out written: False$", _c_refine_many_problems),
    Case('suspicious input', 'refine: a flat scan and a coarse mask covering the whole image', 'both refined, both reported in prompts.json',
         r"^rc 0: warnings in prompts\.json: \[.*flat\.png: every pixel is 30.*coarse mask of scan\.png: mask covers 100% of the image.*\]$", _c_refine_suspicious),
    Case('never invent', 'segment: a blank scan (every pixel 30) and a blank frame of a two-page TIFF',
         'both warned (the frame named), both left empty (was: on an all-black scan the bundled model\'s guess written as a 48 347-px lesion)',
         r"^rc 0: coarse empty \[.*'cine_frame001'.*'flat'.*\]; lesions in the blanks \[\]; warnings \[.*cine\.tif frame 1: every pixel is 0.*flat\.png: every pixel is 30.*\]$", _c_segment_blank),
    Case('never invent', 'inference --mode transunet: a blank scan (every pixel 30) beside a real one',
         'its mask empty (was: whatever the coarse model answered — the untrained tiny model\'s: the whole 150×120 scan)',
         r"^rc 0: foreground px \{'flat': 0, 'scan': \d+\}$", _c_inference_transunet_blank),
]
