"""The seed README's command lines, as written there, do what the seed says.

1. Every command line verbatim + `--dry_run`: the seed's flags build the seed's models (R50-ViT-B_16 at 224, SAM vit_b at
   1024, built here to count their parameters), with the seed's epochs / batch sizes / learning rates, and write to the
   paths the next command reads.
2. The whole chain for real — phase 1 on two datasets (one of them in the seed's BUSBRA train/val tree), phase 2 on
   both at once, phase 3, inference — with the seed's command lines where only the model flags (tiny models), the
   epochs (1) and the dataset list (2 of the 5) differ, and tiny stand-in weight files in the seed's key layouts
   (Google-ViT .npz names for --vit_pretrained, segment-anything names for --medsam_checkpoint).
"""
import json
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

BIN = Path(sys.executable).parent / 'ultrarefiner'

SEED = {   # the seed README, verbatim (python scripts/X.py → ultrarefiner X)
    'phase1': """train-transunet --data_root ./data --datasets BUSI BUSBRA BUS BUS_UC BUS_UCLM --vit_name R50-ViT-B_16
                 --vit_pretrained ./pretrained/R50+ViT-B_16.npz --img_size 224 --batch_size 24 --max_epochs 150
                 --output_dir ./checkpoints/transunet --exp_name transunet_bus""",
    'phase2': """finetune-sam --data_root ./data --datasets BUSI BUSBRA BUS BUS_UC BUS_UCLM --sam_model_type vit_b
                 --medsam_checkpoint ./pretrained/medsam_vit_b.pth --batch_size 4 --max_epochs 100
                 --output_dir ./checkpoints/sam_finetuned --exp_name sam_finetune_bus""",
    'phase3': """train-e2e --data_root ./data --datasets BUSI BUSBRA BUS BUS_UC BUS_UCLM
                 --transunet_checkpoint ./checkpoints/transunet/best.pth --sam_checkpoint ./checkpoints/sam_finetuned/best.pth
                 --batch_size 8 --max_epochs 100 --transunet_lr 1e-4 --sam_lr 1e-5 --coarse_loss_weight 0.3
                 --refined_loss_weight 0.7 --output_dir ./checkpoints/ultra_refiner --exp_name ultra_refiner_e2e""",
    'infer_full': """inference --mode full --model_checkpoint ./checkpoints/ultra_refiner/best.pth --image_path ./test_image.png
                     --output_dir ./results""",
    'infer_tu': """inference --mode transunet --transunet_checkpoint ./checkpoints/transunet/best.pth --image_dir ./test_images
                   --output_dir ./results""",
}
ALL5 = 'BUSI BUSBRA BUS BUS_UC BUS_UCLM'


def run(line, cwd, ok=True):
    r = subprocess.run([str(BIN), *shlex.split(line)], cwd=cwd, capture_output=True, text=True, env=dict(os.environ, COLUMNS='120'))
    if ok: assert r.returncode == 0, f"{line}\n{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r


def test_seed_lines_build_the_seeds_models(tmp_path):
    p1 = json.loads(run(SEED['phase1'] + ' --dry_run', tmp_path).stdout)
    assert p1['preset']['name'] == 'full' and p1['options']['exp_name'] == 'transunet_bus'
    assert (p1['recipe']['epochs'], p1['recipe']['batch_size'], p1['recipe']['lr']) == (150, 24, 0.01)
    tu = p1['models']['transunet']
    assert (tu['config'], tu['img_size'], tu['hybrid'], tu['layers']) == ('R50-ViT-B_16', 224, True, 12)
    assert 100e6 < tu['params'] < 110e6                                   # R50-ViT-B_16 TransUNet ≈ 105 M
    assert p1['runs']['BUSBRA'][0] == 'checkpoints/transunet/BUSBRA/fold_0' and len(p1['runs']) == 5
    assert p1['vit_pretrained'] == './pretrained/R50+ViT-B_16.npz' and set(p1['prepare']) == set(ALL5.split())

    p2 = json.loads(run(SEED['phase2'] + ' --dry_run', tmp_path).stdout)
    assert p2['preset']['name'] == 'full'
    assert (p2['recipe']['epochs'], p2['recipe']['batch_size'], p2['recipe']['lr']) == (100, 4, 1e-4)
    sam = p2['models']['sam']
    assert (sam['type'], sam['encoder'], sam['img_size']) == ('vit_b', 'ImageEncoderViT', 1024)
    assert 85e6 < sam['encoder_params'] < 90e6                            # SAM ViT-B image encoder ≈ 86 M
    tag = 'BUSI+BUSBRA+BUS+BUS_UC+BUS_UCLM'
    assert list(p2['runs']) == [tag] and p2['runs'][tag][0] == f'checkpoints/sam_finetuned/{tag}/fold_0'

    p3 = json.loads(run(SEED['phase3'] + ' --preset full --dry_run', tmp_path).stdout)   # before phase 1 no checkpoint names it
    r = p3['recipe']
    assert (r['epochs'], r['batch_size'], r['transunet_lr'], r['sam_lr']) == (100, 8, 1e-4, 1e-5)
    assert (r['coarse_loss_weight'], r['refined_loss_weight'], r['coarse_loss_terms'], r['refined_iou_weight']) == (0.3, 0.7, [1.0, 1.0], 0.0)
    assert p3['runs']['BUS'][0]['out'] == 'checkpoints/ultra_refiner/BUS/fold_0'
    assert 'checkpoints/transunet/BUS/fold_0/best.pth' in p3['runs']['BUS'][0]['transunet']          # not there yet: said so

    bad = run(SEED['phase1'] + ' --preset tiny --dry_run', tmp_path, ok=False)                     # conflicting flags
    assert bad.returncode == 2 and '--preset tiny conflicts with --vit_name R50-ViT-B_16' in bad.stderr
    bad = run(SEED['phase2'].replace('vit_b', 'garbage') + ' --dry_run', tmp_path, ok=False)
    assert bad.returncode == 2 and "--sam_model_type 'garbage'" in bad.stderr


@pytest.fixture(scope='module')
def seed_chain(tmp_path_factory):
    d = tmp_path_factory.mktemp('seed')
    run('phantoms --out data --n 24 --seed 0 --height 64 --width 80 --name BUSI', d)
    run('phantoms --out raw --n 24 --seed 1 --height 64 --width 80 --name B2', d)
    for i, img in enumerate(sorted(p for p in (d / 'raw/B2').rglob('*.png') if '_mask' not in p.name)):   # the seed's BUSBRA tree
        part = 'val' if i % 4 == 0 else 'train'
        for kind, src in (('images', img), ('masks', img.with_name(img.stem + '_mask.png'))):
            (d / 'data/BUSBRA' / part / kind).mkdir(parents=True, exist_ok=True)
            shutil.copy(src, d / 'data/BUSBRA' / part / kind / f'bus_{i:04d}-l.png')
    run('prepare --data_root data --datasets BUSI BUSBRA --folds 2', d)
    from ultrarefiner.models.transunet import build_transunet, save_vit_npz
    from ultrarefiner.models.sam import build_sam
    (d / 'pretrained').mkdir()
    save_vit_npz(build_transunet('tiny', img_size=64), d / 'pretrained/R50+ViT-B_16.npz')         # seed file names, tiny shapes
    torch.save(build_sam('tiny').state_dict(), d / 'pretrained/medsam_vit_b.pth')
    tiny = lambda line: ' '.join(line.split()).replace(ALL5, 'BUSI BUSBRA')
    lines = {
        'phase1': tiny(SEED['phase1']).replace('R50-ViT-B_16 ', 'tiny ').replace('--img_size 224', '--img_size 64')
                                      .replace('--max_epochs 150', '--max_epochs 1'),
        'phase2': tiny(SEED['phase2']).replace('--sam_model_type vit_b', '--sam_model_type tiny').replace('--max_epochs 100', '--max_epochs 1'),
        'phase3': tiny(SEED['phase3']).replace('--max_epochs 100', '--max_epochs 1'),
    }
    out = {k: run(v, d) for k, v in lines.items()}
    return d, lines, out


@pytest.mark.slow
def test_seed_chain_paths_and_models(seed_chain):
    d, lines, out = seed_chain
    ck = d / 'checkpoints'
    for ds in ('BUSI', 'BUSBRA'):
        for k in (0, 1):
            c1 = torch.load(ck / f'transunet/{ds}/fold_{k}/best.pth', weights_only=True)['config']
            assert c1['preset'] == 'tiny' and c1['options']['exp_name'] == 'transunet_bus' and c1['batch_size'] == 24
            assert c1['vit_pretrained'] == './pretrained/R50+ViT-B_16.npz'
            c3 = torch.load(ck / f'ultra_refiner/{ds}/fold_{k}/best.pth', weights_only=True)['config']
            assert c3['sam_checkpoint'] == f'checkpoints/sam_finetuned/BUSI+BUSBRA/fold_{k}/best.pth'   # the multi-dataset phase 2
            assert c3['transunet_checkpoint'] == f'checkpoints/transunet/{ds}/fold_{k}/best.pth'
            assert c3['preset'] == 'tiny'                      # no model flag on the phase-3 line: the checkpoints' preset
            assert (c3['transunet_lr'], c3['sam_lr'], c3['coarse_loss_weight'], c3['batch_size']) == (1e-4, 1e-5, 0.3, 8)
            assert c3['options']['exp_name'] == 'ultra_refiner_e2e'
        assert len(list((d / 'predictions' / ds / 'predictions').glob('*.npy'))) > 0
    c2 = torch.load(ck / 'sam_finetuned/BUSI+BUSBRA/fold_0/best.pth', weights_only=True)['config']
    assert c2['datasets'] == ['BUSI', 'BUSBRA'] and c2['sam_checkpoint'] == './pretrained/medsam_vit_b.pth' and c2['batch_size'] == 4
    assert not (ck / 'transunet/transunet').exists() and not (ck / 'transunet/transunet_bus').exists()


@pytest.mark.slow
def test_seed_inference_lines(seed_chain):
    d, _, _ = seed_chain
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (70, 90), dtype=np.uint8)).save(d / 'test_image.png')
    (d / 'test_images').mkdir(exist_ok=True); shutil.copy(d / 'test_image.png', d / 'test_images/a.png')
    # the seed's single-file path is ambiguous with 2 datasets × 2 folds: an error listing them, not a guess
    bad = run(' '.join(SEED['infer_full'].split()), d, ok=False)
    assert bad.returncode == 2 and '4 fold checkpoints under checkpoints/ultra_refiner' in bad.stderr
    run(' '.join(SEED['infer_full'].split()).replace('ultra_refiner/best.pth', 'ultra_refiner/BUSI/fold_0/best.pth'), d)
    rec = json.loads((d / 'results/prompts.json').read_text())[0]
    assert rec['mode'] == 'full' and rec['size'] == [90, 70] and Image.open(d / 'results/test_image_mask.png').size == (90, 70)
    plan = json.loads(run(' '.join(SEED['infer_full'].split()).replace('ultra_refiner/best.pth', 'ultra_refiner/BUSBRA/fold_1/best.pth')
                          + ' --dry_run', d).stdout)
    assert plan['preset']['name'] == 'tiny' and plan['models']['sam']['img_size'] == 256      # rebuilt from the stored preset
    run(' '.join(SEED['infer_tu'].split()).replace('transunet/best.pth', 'transunet/BUSI/fold_1/best.pth')
        .replace('./results', './results_tu'), d)
    assert Image.open(d / 'results_tu/a_mask.png').size == (90, 70)
