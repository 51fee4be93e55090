"""A plain (non-editable) install runs the folds: the phase templates ship as package data, nothing reads the checkout."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_non_editable_install_runs_folds(tmp_path):
    src, site = tmp_path / 'src', tmp_path / 'site'                 # what an sdist holds: the package and its metadata
    shutil.copytree(ROOT / 'ultrarefiner', src / 'ultrarefiner', ignore=shutil.ignore_patterns('__pycache__'))
    for f in ('setup.py', 'settings.ini', 'README.md', 'MANIFEST.in'): shutil.copy(ROOT / f, src / f)
    r = subprocess.run([sys.executable, '-m', 'pip', 'install', '-q', '--no-deps', '--no-build-isolation', '--target', str(site),
                        str(src)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr[-3000:]
    assert sorted(p.name for p in (site / 'ultrarefiner' / 'templates').glob('*.ipynb')) == [
        'evaluate.ipynb', 'phase1_transunet.ipynb', 'phase2_sam.ipynb', 'phase3_e2e.ipynb']
    work = tmp_path / 'elsewhere'; work.mkdir()                      # outside the checkout
    env = dict(os.environ, PYTHONPATH=str(site), COLUMNS='120')
    run = lambda *a: subprocess.run([sys.executable, '-c', 'import sys; from ultrarefiner.cli import main; sys.exit(main(sys.argv[1:]))',
                                     *a], cwd=work, env=env, capture_output=True, text=True)
    where = subprocess.run([sys.executable, '-c', 'import ultrarefiner.orchestrate as c; print(c.__file__); print(c.templates_dir())'],
                           cwd=work, env=env, capture_output=True, text=True).stdout.split()
    assert all(w.startswith(str(site)) for w in where), where       # the installed copy, not the checkout
    for args in (['phantoms', '--out', 'data', '--n', '12', '--seed', '0', '--height', '64', '--width', '80'],
                 ['prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2'],
                 ['run-folds', '--phase', '1', '--datasets', 'PHANTOM', '--folds', '0', '--phase1_folds', '0', '--preset', 'tiny',
                  '--epochs', '1', '--no-amp']):
        r = run(*args)
        assert r.returncode == 0, f"{args}: {r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    nb = json.loads((work / 'runs/phase1/PHANTOM/fold_0.ipynb').read_text())
    assert nb['metadata']['papermill']['input_path'].startswith(str(site))
    assert (work / 'checkpoints/transunet/PHANTOM/fold_0/best.pth').exists()
    # segment out of the box: the bundled weights ship as package data, on a folder of phantoms (PNG and DICOM)
    from ultrarefiner.data.scans import write_test_dicom
    from ultrarefiner.data.phantom import make_phantom
    import numpy as np
    from PIL import Image
    scans = work / 'scans'; scans.mkdir(); rng = np.random.default_rng(0)
    for i in range(2): Image.fromarray(make_phantom(rng, 'benign', (180, 220))[0]).save(scans / f'p{i}.png')
    write_test_dicom(scans / 'cine.dcm', np.stack([make_phantom(rng, 'malignant', (160, 200))[0]] * 2), spacing_cm=(0.01, 0.01))
    (scans / 'broken.png').write_bytes(b'not an image')
    r = run('segment', '--image_dir', 'scans', '--output_dir', 'seg', '--encoder_runtime', 'torch')
    assert r.returncode == 0, f"{r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    s = json.loads((work / 'seg/segment.json').read_text())
    assert [i['name'] for i in s['images']] == ['cine_frame000', 'cine_frame001', 'p0', 'p1'] and s['skipped'][0]['file'].endswith('broken.png')
    assert all(m.startswith('bundled') for m in s['model'])
    for n in ('p0', 'cine_frame001'):
        for suffix in ('coarse', 'refined', 'prob', 'uncertainty', 'overlay'): assert (work / 'seg' / f'{n}_{suffix}.png').is_file()
    assert (work / 'seg/lesions.csv').read_text().startswith('image,source,lesion,area_px,area_mm2')
