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
