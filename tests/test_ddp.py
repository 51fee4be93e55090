"""DDP on CPU with gloo: 2 processes × batch 4 give the same weights as 1 process × batch 8 (tolerance 1e-5)."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

HERE = Path(__file__).resolve().parent
BIN = Path(sys.executable).parent
TOL = 1e-5      # float32 all-reduce sums in another order than one process's batch mean


def free_port():
    import socket
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return str(s.getsockname()[1])


def torchrun(*args, cwd, n=2):
    env = dict(os.environ, OMP_NUM_THREADS='1')
    return subprocess.run([sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', str(n), '--master_addr', '127.0.0.1',
                           '--master_port', free_port(), *args], cwd=cwd, capture_output=True, text=True, env=env, timeout=600)


@pytest.mark.slow
def test_two_processes_equal_one_with_double_batch(tmp_path):
    one = subprocess.run([sys.executable, str(HERE / 'ddp_worker.py'), str(tmp_path / 'one'), '8'], capture_output=True, text=True)
    assert one.returncode == 0, one.stderr[-3000:]
    two = torchrun(str(HERE / 'ddp_worker.py'), str(tmp_path / 'two'), '4', cwd=tmp_path)
    assert two.returncode == 0, two.stderr[-3000:]
    a = torch.load(tmp_path / 'one/last.pth', weights_only=True)
    b = torch.load(tmp_path / 'two/last.pth', weights_only=True)
    assert a['global_step'] == b['global_step'] == 3 * 8
    for k in a['model']:
        assert torch.allclose(a['model'][k], b['model'][k], atol=TOL), (k, (a['model'][k] - b['model'][k]).abs().max())
    ha = json.loads((tmp_path / 'one/metrics.json').read_text())['history']
    hb = json.loads((tmp_path / 'two/metrics.json').read_text())['history']
    assert all(abs(x['dice'] - y['dice']) < TOL for x, y in zip(ha, hb)) and len(ha) == len(hb) == 3
    assert sorted(p.name for p in (tmp_path / 'two').iterdir()) == ['best.pth', 'last.pth', 'metrics.json', 'progress.png']   # rank 0 only


@pytest.mark.slow
def test_phase1_under_torchrun(tmp_path):
    ur = str(BIN / 'ultrarefiner')
    subprocess.run([ur, 'phantoms', '--out', 'data', '--n', '24', '--height', '64', '--width', '80'], cwd=tmp_path, check=True,
                   capture_output=True)
    subprocess.run([ur, 'prepare', '--data_root', 'data', '--datasets', 'PHANTOM', '--folds', '2'], cwd=tmp_path, check=True,
                   capture_output=True)
    r = torchrun(ur, 'train-transunet', '--data_root', 'data', '--datasets', 'PHANTOM', '--vit_name', 'tiny', '--fold', '0',
                 '--max_epochs', '2', '--batch_size', '2', '--no-oof', cwd=tmp_path)
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / 'checkpoints/transunet/PHANTOM/fold_0/metrics.json').read_text())
    assert m['complete'] and len(m['history']) == 2
    assert r.stdout.count('epoch 2/2:') == 1            # console output from rank 0 only
    # each rank validated its shard; the gathered Dice equals one process validating every image with best.pth
    from torch.utils.data import DataLoader
    from ultrarefiner.data.splits import split_names
    from ultrarefiner.data.datasets import TransUNetDataset
    from ultrarefiner.metrics import MetricTracker
    from ultrarefiner.checkpoint import load_transunet
    root = tmp_path / 'data/processed/PHANTOM'
    vds = TransUNetDataset(root, split_names(root, 'val', 0), 64)
    model, t = load_transunet('tiny', tmp_path / 'checkpoints/transunet/PHANTOM/fold_0/best.pth').eval(), MetricTracker()
    with torch.no_grad():
        for b in DataLoader(vds, batch_size=8):
            t.update(model(b['image']).softmax(1)[:, 1] > 0.5, b['mask'])
    assert abs(t.summary()['dice']['mean'] - m['best']['dice']) < 1e-6, (t.summary()['dice'], m['best'])
