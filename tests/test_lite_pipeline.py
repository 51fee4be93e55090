"""The `lite` pipeline (a decoder on LiteMedSAM's TinyViT + LiteMedSAM, one encoder pass) through the kit's own commands on a
tiny phantom set: one fold checkpoint loads in `inference`, `refine --checkpoint`, `evaluate` (folds, ensemble, flip) and
both explorers, each rebuilding the model that was trained."""
import json
import os
from pathlib import Path

import pytest

from conftest import cli


@pytest.fixture(scope='module')
def lite_run(tmp_path_factory):
    d = tmp_path_factory.mktemp('lite')
    cli('phantoms', '--out', 'data', '--n', '16', '--seed', '2', '--height', '80', '--width', '96', cwd=d)
    cli('prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2', cwd=d)
    cli('run-folds', '--phase', 'all', '--datasets', 'PHANTOM', '--folds', '0', '--phase1_folds', 'all', '--preset', 'lite',
        '--epochs', '1', '--encoder_runtime', 'torch', cwd=d)
    return d


@pytest.mark.slow
def test_lite_checkpoints_hold_the_shared_model(lite_run):
    d = lite_run
    from ultrarefiner.io import load_checkpoint
    p1 = load_checkpoint(d / 'checkpoints/transunet/PHANTOM/fold_1/best.pth')
    assert p1['config']['preset_settings']['coarse'] == 'tinyvit'
    assert all(k.startswith('decoder.') for k in p1['model'])            # the decoder alone: the encoder is LiteMedSAM's
    p3 = load_checkpoint(d / 'checkpoints/ultra_refiner/PHANTOM/fold_0/best.pth')['model']
    assert not any(k.startswith('transunet.features') for k in p3)        # the encoder once, under refiner.sam
    assert any(k.startswith('refiner.sam.image_encoder.') for k in p3)


@pytest.mark.slow
def test_one_fold_checkpoint_everywhere(lite_run, tmp_path):
    d = lite_run
    ck = d / 'checkpoints/ultra_refiner/PHANTOM/fold_0/best.pth'
    imgs = d / 'data/processed/PHANTOM/test/images'
    cli('inference', '--model_checkpoint', str(ck), '--image_dir', str(imgs), '--output_dir', str(tmp_path / 'inf'), cwd=d)
    recs = json.loads((tmp_path / 'inf/prompts.json').read_text())
    assert len(recs) == len(list(imgs.glob('*.png'))) and all(Path(r['mask']).exists() for r in recs)
    cli('inference', '--dataset', 'PHANTOM', '--folds', 'all', '--tta', 'flip', '--image_dir', str(imgs),
        '--output_dir', str(tmp_path / 'ens'), cwd=d)
    assert len(json.loads((tmp_path / 'ens/prompts.json').read_text())) == len(recs)
    # refine: the fold's refiner on the fold's own coarse masks (written by inference --mode transunet)
    cli('inference', '--mode', 'transunet', '--transunet_checkpoint', str(ck), '--image_dir', str(imgs),
        '--output_dir', str(tmp_path / 'coarse'), cwd=d)
    coarse = tmp_path / 'coarse_masks'; coarse.mkdir()
    for f in (tmp_path / 'coarse').glob('*_mask.png'): f.rename(coarse / f.name.replace('_mask.png', '.png'))
    cli('refine', '--image_dir', str(imgs), '--coarse_dir', str(coarse), '--checkpoint', str(ck),
        '--output_dir', str(tmp_path / 'ref'), '--gt_dir', str(d / 'data/processed/PHANTOM/test/masks'), cwd=d)
    from ultrarefiner.checkpoint import refiner_settings
    rep = json.loads((tmp_path / 'ref/metrics.json').read_text())
    assert rep['refined']['dice']['n'] == len(recs)
    assert refiner_settings(ck)['component'] == 'largest'                 # the lite prompts, stored and used
    r = cli('evaluate', '--datasets', 'PHANTOM', '--folds', 'all', '--tta', 'flip', '--out', str(tmp_path / 'eval'), cwd=d)
    s = json.loads((tmp_path / 'eval/PHANTOM/summary.json').read_text())
    assert s['tta'] == 'flip' and sorted(s['per_fold']) == ['0', '1'] and s['ensemble'] is not None
    assert str(ck.relative_to(d)) in s['per_fold']['0']['checkpoints']
    # both explorers open on the fold's model
    cwd = os.getcwd(); os.chdir(d)
    try:
        from ultrarefiner.checkpoint import load_pipeline
        from ultrarefiner.viz.explorer import PromptExplorer, RefinementViewer
        from ultrarefiner.viz.samples import dataset_samples
        model = load_pipeline('PHANTOM', 0)
        assert type(model.transunet).__name__ == 'TinyViTCoarse'
        assert model.transunet.features.encoder is model.refiner.sam.image_encoder   # one encoder for both
        samples = dataset_samples(Path('data/processed/PHANTOM'), 'test')[:2]
        ex = PromptExplorer(model, samples); st = ex.compute()
        assert 'refined' in st and 0 <= st.get('dice_refined', 0) <= 1
        rv = RefinementViewer(model, samples)
        assert len(rv.rows) == 2
    finally: os.chdir(cwd)


@pytest.mark.slow
def test_ablation_zero_shot_gate_fitted_on_held_out_images(lite_run, tmp_path):
    """`evaluate --ablation` scores the zero-shot LiteMedSAM behind a gate fitted on each fold's validation images: a row in
    both tables, its gate's choices counted on every test image, the gate never fitted on a test image."""
    d = lite_run
    cli('evaluate', '--datasets', 'PHANTOM', '--folds', 'all', '--ablation', '--encoder_runtime', 'torch', '--out', str(tmp_path / 'abl'), cwd=d)
    a = json.loads((tmp_path / 'abl/PHANTOM/ablation.json').read_text())
    for title in ('fold 0', 'ensemble of folds [0, 1]'):
        rows = a['tables'][title]
        assert list(rows)[:2] == ['zero-shot, preset prompts', 'zero-shot + gate'], list(rows)
        g = rows['zero-shot + gate']
        assert g['gate'] is not None and sum(v['n'] for v in g['gate'].values()) == a['n_test']
        assert rows['zero-shot, preset prompts']['gate'] is None                      # the plain row stays ungated
        assert g['coarse'] == rows['zero-shot, preset prompts']['coarse']             # same coarse models, one lever changed
        assert any(s.startswith('gate: ') for s in g['checkpoints'])
    md = (tmp_path / 'abl/PHANTOM/ablation.md').read_text()
    assert md.count('- zero-shot + gate — gate: ') == 2, md                      # each table names the gate it fitted and why
