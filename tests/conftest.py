"""Shared pytest fixtures: writers for tiny raw datasets in every supported layout."""
from pathlib import Path
import numpy as np
import pytest
from PIL import Image


def save(path: Path, arr, mode=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(np.asarray(arr), mode=mode).save(path) if mode else Image.fromarray(np.asarray(arr)).save(path)
    return path


def lesion(h=40, w=48, i=0):
    """(image uint8, mask uint8 0/255) with a lesion whose position depends on i."""
    rng = np.random.default_rng(i)
    img = rng.integers(60, 200, (h, w), dtype=np.uint8)
    m = np.zeros((h, w), np.uint8)
    m[5 + i % 10:20 + i % 10, 8 + i % 12:22 + i % 12] = 255
    return img, m


@pytest.fixture
def tmp(tmp_path):
    return tmp_path


def cli(*args, cwd):
    "Run `ultrarefiner ARGS` (this venv's) in `cwd`; a non-zero exit fails the test with its output."
    import os, subprocess, sys
    r = subprocess.run([str(Path(sys.executable).parent / 'ultrarefiner'), *args], cwd=cwd, capture_output=True, text=True,
                       env=dict(os.environ, COLUMNS='120'))
    assert r.returncode == 0, f"{args}: {r.stdout[-2000:]}\n{r.stderr[-3000:]}"
    return r
