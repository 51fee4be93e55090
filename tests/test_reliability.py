"""Reliability: every registered case (tests/reliability_cases.py: CASES), plus the crash cases that kill a process."""
import json
import re
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from reliability_cases import CASES, run_case

BIN = Path(sys.executable).parent


@pytest.mark.parametrize('case', [c for c in CASES if c.run is not None], ids=lambda c: c.name)
def test_case(case):
    ok, msg = run_case(case)
    if ok is None: pytest.skip(msg)
    assert ok, f"{case.category} / {case.name}: expected /{case.pattern}/, observed: {msg}"


def test_kill9_during_checkpoint_save_keeps_previous_best(tmp_path):
    """Deterministic: the writer is killed only once its temp file is on disk (a write in progress), never by timing luck."""
    from ultrarefiner.io import save_checkpoint, load_checkpoint
    best = tmp_path / 'best.pth'
    save_checkpoint({'model': {'w': torch.arange(10.)}, 'epoch': 3}, best)
    code = ("import torch; from ultrarefiner.io import save_checkpoint\n"
            "big = {'model': {'w': torch.randn(60_000_000)}, 'epoch': 4}\n"
            "print('ready', flush=True)\n"
            f"while True: save_checkpoint(big, {str(best)!r})\n")
    for _ in range(3):
        p = subprocess.Popen([sys.executable, '-c', code], stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == 'ready'
        t0 = time.time()
        while not any(f.name.startswith(f'.best.pth.{p.pid}-') for f in tmp_path.iterdir()):   # this writer's temp file: mid-write
            assert time.time() - t0 < 120 and p.poll() is None, 'the writer never started a temp file'
        p.send_signal(signal.SIGKILL); p.wait()
        ck = load_checkpoint(best)                                   # always a complete, loadable file
        assert ck['epoch'] in (3, 4) and ck['model']['w'].numel() in (10, 60_000_000)
    save_checkpoint({'model': {'w': torch.zeros(1)}, 'epoch': 5}, best)   # the next save removes the killed writers' temp files
    assert [f.name for f in tmp_path.iterdir()] == ['best.pth']


def _train(d, epochs=4):
    return subprocess.Popen([str(BIN / 'ultrarefiner'), 'train-transunet', '--data_root', 'data', '--datasets', 'PHANTOM',
                             '--vit_name', 'tiny', '--fold', '0', '--max_epochs', str(epochs), '--no-oof'],
                            cwd=d, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def test_kill9_during_training_then_resume(tmp_path):
    for d in (tmp_path / 'a', tmp_path / 'b'):
        d.mkdir()
        subprocess.run([str(BIN / 'ultrarefiner'), 'phantoms', '--out', 'data', '--n', '30', '--height', '64', '--width', '80'],
                       cwd=d, check=True, capture_output=True)
        subprocess.run([str(BIN / 'ultrarefiner'), 'prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2'],
                       cwd=d, check=True, capture_output=True)
    ref = _train(tmp_path / 'a'); ref.wait(); assert ref.returncode == 0
    p = _train(tmp_path / 'b')
    last = tmp_path / 'b/checkpoints/transunet/PHANTOM/fold_0/last.pth'
    t0 = time.time()
    while not last.exists() and time.time() - t0 < 120: time.sleep(0.05)
    time.sleep(0.3)
    p.send_signal(signal.SIGKILL); p.wait()
    m = json.loads((last.parent / 'metrics.json').read_text())
    assert not m['complete'], 'training finished before the kill; nothing was interrupted'
    r = _train(tmp_path / 'b'); out = r.communicate()[0]
    assert r.returncode == 0 and 'resumed from' in out, out[-2000:]
    m = json.loads((last.parent / 'metrics.json').read_text())
    assert m['complete'] and [h['epoch'] for h in m['history']] == [1, 2, 3, 4]
    a = torch.load(tmp_path / 'a/checkpoints/transunet/PHANTOM/fold_0/last.pth', weights_only=True)['model']
    b = torch.load(last, weights_only=True)['model']
    assert all(torch.allclose(a[k].float(), b[k].float(), atol=1e-5) for k in a)   # same result as uninterrupted


def test_edited_split_that_leaks_is_refused_at_training_time(tmp_path):
    from ultrarefiner.errors import DataError
    from ultrarefiner.data.splits import load_splits
    subprocess.run([str(BIN / 'ultrarefiner'), 'phantoms', '--out', 'data', '--n', '20', '--height', '64', '--width', '80'],
                   cwd=tmp_path, check=True, capture_output=True)
    subprocess.run([str(BIN / 'ultrarefiner'), 'prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2'],
                   cwd=tmp_path, check=True, capture_output=True)
    root = tmp_path / 'data/processed/PHANTOM'
    s = json.loads((root / 'splits.json').read_text())
    load_splits(root)                                             # as prepared: accepted
    a, b = s['test'][0], s['folds'][0]['train'][0]                # make them one patient: a in test, b in train
    rows = (root / 'manifest.csv').read_text().splitlines()
    rows = [r if not r.startswith(b + ',') else r.rsplit(',', 1)[0] + ',' + a for r in rows]
    (root / 'manifest.csv').write_text('\n'.join(rows) + '\n')
    with pytest.raises(DataError, match=r"splits.json: Leakage: groups \['" + re.escape(a)):
        load_splits(root)
