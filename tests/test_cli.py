"""The console script, run as a user runs it."""
import json
import os
import subprocess
import sys
from pathlib import Path

BIN = Path(sys.executable).parent / 'ultrarefiner'


def run(*args, cwd):
    env = dict(os.environ, COLUMNS='140')
    return subprocess.run([str(BIN), *args], cwd=cwd, capture_output=True, text=True, env=env)


def test_phantoms_then_prepare(tmp_path):
    r = run('phantoms', '--out', 'data', '--n', '30', '--seed', '0', '--height', '96', '--width', '128', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'wrote 30 phantoms' in r.stdout
    r = run('prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '3', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'counts per dataset, class and split' in r.stdout and 'PHANTOM' in r.stdout
    s = json.loads((tmp_path / 'data/processed/PHANTOM/splits.json').read_text())
    assert len(s['folds']) == 3 and s['seed'] == 42
    header = (tmp_path / 'data/processed/PHANTOM/manifest.csv').read_text().splitlines()[0]
    assert header == 'name,image,mask,source_foreground_px,processed_foreground_px,label,group'


def test_error_exit_code(tmp_path):
    (tmp_path / 'data' / 'X').mkdir(parents=True)
    r = run('prepare', '--data_root', 'data', '--datasets', 'X', cwd=tmp_path)
    assert r.returncode == 2 and 'unknown dataset layout' in r.stderr and 'Traceback' not in r.stderr


def test_refine_any_models_masks(tmp_path):
    """`refine` on images + another model's masks (PNG and .npy, different sizes), with ground truth: refined masks at each
    image's size, overlays, prompts.json, the Coarse / Refined / Delta table; clear errors for missing masks and bad flags."""
    import numpy as np
    from PIL import Image
    from scipy.ndimage import binary_dilation
    from ultrarefiner.data.phantom import make_phantom
    for sub in ('img', 'coarse', 'gt'): (tmp_path / sub).mkdir()
    rng = np.random.default_rng(5)
    for k, size in enumerate([(240, 320), (300, 260)]):
        im, (gt,) = make_phantom(rng, 'benign', size)
        Image.fromarray(im).save(tmp_path / 'img' / f'us{k}.png')
        Image.fromarray(gt.astype(np.uint8) * 255).save(tmp_path / 'gt' / f'us{k}_mask.png')
        grown = binary_dilation(gt, iterations=10)
        if k == 0: Image.fromarray(grown.astype(np.uint8) * 255).save(tmp_path / 'coarse' / f'us{k}_mask.png')
        else: np.save(tmp_path / 'coarse' / f'us{k}.npy', grown.astype(np.float32) * 0.9)
    r = run('refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--gt_dir', 'gt', '--output_dir', 'out', cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert 'Coarse vs Refined' in r.stdout and 'Dice' in r.stdout
    for k, size in enumerate([(240, 320), (300, 260)]):
        assert np.asarray(Image.open(tmp_path / 'out' / f'us{k}_refined.png')).shape == size
    m = json.loads((tmp_path / 'out' / 'metrics.json').read_text())
    assert m['refined']['dice']['mean'] > m['coarse']['dice']['mean']
    assert len(json.loads((tmp_path / 'out' / 'prompts.json').read_text())['images']) == 2
    (tmp_path / 'coarse' / 'us1.npy').unlink()
    r = run('refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--output_dir', 'out2', cwd=tmp_path)
    assert r.returncode == 2 and 'no coarse mask' in r.stderr and 'us1.png' in r.stderr and 'Traceback' not in r.stderr
    r = run('refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--output_dir', 'out2', '--prompts', 'box', 'scribble', cwd=tmp_path)
    assert r.returncode == 2 and '--prompts scribble' in r.stderr
    assert not (tmp_path / 'out2').exists()


def test_refine_encoder_runtimes(tmp_path):
    """`refine --encoder_runtime`: OpenVINO / ONNX Runtime give the masks eager PyTorch gives (fp32 exports), prompts.json
    says which runtime ran; a runtime that is asked for and missing, or a precision it cannot run, is a one-line error
    naming the fix, and nothing is written."""
    import numpy as np
    from PIL import Image
    from scipy.ndimage import binary_dilation
    from ultrarefiner.data.phantom import make_phantom
    from ultrarefiner.models.export import runtime_available
    for sub in ('img', 'coarse'): (tmp_path / sub).mkdir()
    rng = np.random.default_rng(3)
    for k in range(2):
        im, (gt,) = make_phantom(rng, 'benign', (200, 240))
        Image.fromarray(im).save(tmp_path / 'img' / f'us{k}.png')
        Image.fromarray(binary_dilation(gt, iterations=6).astype(np.uint8) * 255).save(tmp_path / 'coarse' / f'us{k}_mask.png')
    masks = {}
    for rt in ['torch'] + [r for r in ('onnx', 'openvino') if runtime_available(r)]:
        r = run('refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--output_dir', f'out_{rt}', '--encoder_runtime', rt, cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert f'image encoder on {rt} fp32' in r.stdout
        assert json.loads((tmp_path / f'out_{rt}' / 'prompts.json').read_text())['settings']['encoder_runtime'].startswith(f'{rt} fp32')
        masks[rt] = [np.asarray(Image.open(tmp_path / f'out_{rt}' / f'us{k}_refined.png')) > 0 for k in range(2)]
    for rt, ms in masks.items():
        for a, b in zip(ms, masks['torch']):
            assert (a != b).mean() < 1e-3, rt                # fp32 exports agree with eager to ~1e-5: the same masks
    r = run('refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--output_dir', 'bad', '--encoder_runtime', 'onnx',
            '--encoder_precision', 'bf16', cwd=tmp_path)
    assert r.returncode == 2 and 'OpenVINO only' in r.stderr and 'Traceback' not in r.stderr
    code = ("import sys; sys.modules['openvino'] = None; from ultrarefiner.cli import main; "
            "sys.exit(main(['refine', '--image_dir', 'img', '--coarse_dir', 'coarse', '--output_dir', 'bad', '--encoder_runtime', 'openvino']))")
    r = subprocess.run([sys.executable, '-c', code], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 2 and 'pip install openvino' in r.stderr and 'Traceback' not in r.stderr, r.stderr
    assert not (tmp_path / 'bad').exists()
