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
    assert header == 'name,image,mask,label,group'


def test_error_exit_code(tmp_path):
    (tmp_path / 'data' / 'X').mkdir(parents=True)
    r = run('prepare', '--data_root', 'data', '--datasets', 'X', cwd=tmp_path)
    assert r.returncode == 2 and 'unknown dataset layout' in r.stderr and 'Traceback' not in r.stderr
