"""The whole chain through papermill on a tiny phantom set, 2 folds: artefacts, OOF coverage, resume, inference sizes."""
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

BIN = Path(sys.executable).parent / 'ultrarefiner'
from conftest import cli




@pytest.fixture(scope='module')
def chain(tmp_path_factory):
    d = tmp_path_factory.mktemp('chain')
    cli('phantoms', '--out', 'data', '--n', '30', '--seed', '1', '--height', '80', '--width', '96', cwd=d)
    cli('prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2', cwd=d)
    r = cli('run-folds', '--phase', 'all', '--datasets', 'PHANTOM', '--folds', '0', '1', '--preset', 'tiny',
            '--epochs', '2', '--jobs', '2', '--box_mode', 'hard', '--no-amp', '--seed', '7', cwd=d)   # non-default options
    return d, r


@pytest.mark.slow
def test_artefacts(chain):
    d, r = chain
    for k in (0, 1):
        for kind in ('transunet', 'sam_finetuned', 'ultra_refiner'):
            f = d / 'checkpoints' / kind / 'PHANTOM' / f'fold_{k}'
            assert (f / 'best.pth').exists() and (f / 'last.pth').exists(), f
            assert json.loads((f / 'metrics.json').read_text())['complete']
        for ph in (1, 2, 3):
            assert (d / 'runs' / f'phase{ph}' / 'PHANTOM' / f'fold_{k}.ipynb').exists()
    for f in ('summary.json', 'summary.md', 'examples.png', 'evaluate.ipynb'):
        assert (d / 'runs/eval/PHANTOM' / f).exists(), f
    assert list((d / 'runs/tb').rglob('events.out.tfevents*'))
    s = json.loads((d / 'runs/eval/PHANTOM/summary.json').read_text())
    assert s['folds'] == [0, 1] and 'refined' in s['mean'] and 0 <= s['mean']['refined']['dice']['mean'] <= 1
    assert '| Dice |' in r.stdout                                    # the report is printed
    nb = json.loads((d / 'runs/phase2/PHANTOM/fold_0.ipynb').read_text())
    text = ''.join(''.join(o.get('text', '')) + ''.join(''.join(v) for v in o.get('data', {}).values() if isinstance(v, (str, list)))
                   for c in nb['cells'] for o in c.get('outputs', []))   # rich renders its table as HTML in a kernel
    assert 'Coarse' in text and 'Refined' in text and 'Delta' in text    # the per-epoch table



@pytest.mark.slow
def test_evaluate_command(chain):
    "`ultrarefiner evaluate` (the phase registry's eval command) re-scores the trained folds and counts empty coarse masks."
    d, _ = chain
    cli('evaluate', '--datasets', 'PHANTOM', '--folds', '1', '--out', 'eval_again', '--encoder_runtime', 'torch', cwd=d)
    s = json.loads((d / 'eval_again/PHANTOM/summary.json').read_text())
    first = json.loads((d / 'runs/eval/PHANTOM/summary.json').read_text())
    assert s['folds'] == [1] and isinstance(s['per_fold']['1']['empty_coarse'], list)
    assert abs(s['per_fold']['1']['refined']['dice']['mean'] - first['per_fold']['1']['refined']['dice']['mean']) < 1e-4
    assert 'Empty coarse → empty refined' in (d / 'eval_again/PHANTOM/summary.md').read_text()

@pytest.mark.slow
def test_oof_covers_train_exactly_once(chain):
    d, _ = chain
    s = json.loads((d / 'data/processed/PHANTOM/splits.json').read_text())
    train = sorted(n for f in s['folds'] for n in f['val'])
    assert len(train) == len(set(train))
    preds = sorted(p.stem for p in (d / 'predictions/PHANTOM/predictions').glob('*.npy'))
    assert preds == train and not set(preds) & set(s['test'])
    a = np.load(d / 'predictions/PHANTOM/predictions' / f'{preds[0]}.npy')
    assert a.shape == (64, 64) and 0 <= a.min() and a.max() <= 1


@pytest.mark.slow
def test_skip_complete_and_failure_names_notebook(chain):
    d, _ = chain
    r = cli('run-folds', '--phase', '1', '--datasets', 'PHANTOM', '--folds', '0', '1', cwd=d)
    assert r.stdout.count('complete, skipped') == 2
    bad = subprocess.run([str(BIN), 'run-folds', '--phase', '3', '--datasets', 'PHANTOM', '--folds', '0', '--force',
                          '--preset', 'tiny', '--device', 'bogus', '--runs', 'runs_bad'], cwd=d, capture_output=True, text=True)
    assert bad.returncode == 2 and 'runs_bad/phase3/PHANTOM/fold_0.ipynb' in bad.stderr
    # inputs are checked before anything starts: the message says what is missing and the command that makes it
    bad = subprocess.run([str(BIN), 'run-folds', '--phase', '3', '--datasets', 'PHANTOM', '--folds', '0', '--force',
                          '--preset', 'tiny', '--ckpt_root', 'nowhere'], cwd=d, capture_output=True, text=True)
    assert bad.returncode == 2 and 'run-folds cannot start' in bad.stderr and 'needs phase 1 of fold 0' in bad.stderr
    assert 'ultrarefiner run-folds --phase 1 --datasets PHANTOM --folds 0 --preset tiny' in bad.stderr
    assert not (d / 'nowhere').exists()


@pytest.mark.slow
def test_options_reach_every_phase(chain):
    "Non-default run-folds options are in each executed notebook's parameters and in each checkpoint's stored options."
    d, _ = chain
    for ph, kind in ((1, 'transunet'), (2, 'sam_finetuned'), (3, 'ultra_refiner')):
        params = json.loads((d / 'runs' / f'phase{ph}' / 'PHANTOM' / 'fold_0.ipynb').read_text())['metadata']['papermill']['parameters']
        cfg = torch.load(d / 'checkpoints' / kind / 'PHANTOM' / 'fold_0' / 'best.pth', weights_only=True)['config']
        assert params['options']['amp'] is False and params['options']['seed'] == 7, (ph, params)
        assert cfg['options']['amp'] is False and cfg['options']['seed'] == 7 and cfg['preset'] == 'tiny', (ph, cfg)
        assert cfg['preset_settings']['img_size'] == 64 and params['overrides']['epochs'] == 2
        metrics = json.loads((d / 'checkpoints' / kind / 'PHANTOM' / 'fold_0' / 'metrics.json').read_text())
        assert metrics['config']['options'] == cfg['options']
        if ph > 1:
            assert params['overrides']['box_mode'] == 'hard' and cfg['refiner']['box_mode'] == 'hard', (ph, params, cfg['refiner'])
    from ultrarefiner.checkpoint import load_pipeline
    assert load_pipeline('PHANTOM', 0, ckpt_root=str(d / 'checkpoints')).refiner.prompts.box_mode == 'hard'


@pytest.mark.slow
def test_resume_matches_uninterrupted(chain, tmp_path):
    from ultrarefiner.training.phases import phase1
    from ultrarefiner.runtime import seed_everything
    d, _ = chain
    cwd = os.getcwd(); os.chdir(d)
    try:
        kw = dict(preset='tiny', epochs=2, verbose=False, runs=str(tmp_path / 'runs'))
        seed_everything(0, deterministic=True)
        phase1('PHANTOM', 0, ckpt_root=str(tmp_path / 'a'), resume=False, **kw)
        seed_everything(0, deterministic=True)
        r = phase1('PHANTOM', 0, ckpt_root=str(tmp_path / 'b'), resume=False, stop_after_steps=3, **kw)
        assert not r['complete']
        seed_everything(0, deterministic=True)
        phase1('PHANTOM', 0, ckpt_root=str(tmp_path / 'b'), resume=True, **kw)
    finally:
        os.chdir(cwd)
    a = torch.load(tmp_path / 'a/transunet/PHANTOM/fold_0/last.pth', weights_only=True)['model']
    b = torch.load(tmp_path / 'b/transunet/PHANTOM/fold_0/last.pth', weights_only=True)['model']
    for k in a:
        assert torch.allclose(a[k].float(), b[k].float(), atol=1e-6), k


@pytest.mark.slow
def test_inference_sizes(chain):
    d, _ = chain
    imgs = d / 'in'; imgs.mkdir()
    sizes = [(70, 110), (150, 90)]
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (h, w), dtype=np.uint8)).save(imgs / f'scan {i}.png')
    cli('inference', '--mode', 'full', '--model_checkpoint', 'checkpoints/ultra_refiner/PHANTOM/fold_0/best.pth',
        '--image_dir', 'in', '--output_dir', 'out', cwd=d)
    cli('inference', '--mode', 'transunet', '--transunet_checkpoint', 'checkpoints/transunet/PHANTOM/fold_0/best.pth',
        '--image_path', 'in/scan 0.png', '--output_dir', 'out_tu', cwd=d)
    for i, (h, w) in enumerate(sizes):
        assert Image.open(d / 'out' / f'scan {i}_mask.png').size == (w, h)
        assert Image.open(d / 'out' / f'scan {i}_overlay.png').size == (w, h)
    rec = json.loads((d / 'out/prompts.json').read_text())
    assert len(rec) == 2 and rec[0]['size'] == [110, 70]
    for r in rec:                 # noise images: the coarse model may find nothing, and then no prompt is invented
        mask = np.asarray(Image.open(d / r['mask']))
        if r['empty_coarse']: assert r['points'] == [] and r['box'] is None and r['iou_prediction'] is None and not mask.any()
        else: assert len(r['points']) == 2 and len(r['box']) == 4 and 0 <= r['iou_prediction'] <= 1.5
    assert Image.open(d / 'out_tu/scan 0_mask.png').size == (110, 70)
