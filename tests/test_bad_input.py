"""Bad input gives a clear error or warning naming the file, and nothing is half-written."""
import json
import numpy as np
import pytest
from conftest import save, lesion
from ultrarefiner.errors import DataError
from ultrarefiner.data.layouts import prepare_dataset


def make(root, n=8):
    for i in range(n):
        img, m = lesion(i=i)
        save(root / 'images' / f'c{i}.png', img); save(root / 'masks' / f'c{i}.png', m)


def snapshot(d):
    return {p.relative_to(d).as_posix(): p.read_bytes() for p in sorted(d.rglob('*')) if p.is_file()}


@pytest.fixture
def prepared(tmp):
    make(tmp / 'raw' / 'D')
    prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
    return tmp, snapshot(tmp / 'out')


def assert_untouched(tmp, snap):
    assert snapshot(tmp / 'out') == snap                         # previous output intact
    assert [p.name for p in (tmp / 'out' / 'processed').iterdir()] == ['D']   # no temp folder left behind


@pytest.mark.parametrize('content', [b'', b'\x89PNG\r\n\x1a\n' + b'\0' * 30, b'hello, I am text'])
def test_corrupt_image(prepared, content):
    tmp, snap = prepared
    (tmp / 'raw/D/images/c3.png').write_bytes(content)
    with pytest.raises(DataError) as e:
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
    assert 'c3.png' in str(e.value) and '--skip_bad' in str(e.value)
    assert_untouched(tmp, snap)


def test_truncated_png_skip_bad(prepared):
    tmp, _ = prepared
    p = tmp / 'raw/D/images/c3.png'
    p.write_bytes(p.read_bytes()[:60])
    rep = prepare_dataset(tmp / 'raw' / 'D', tmp / 'out2', 'D', folds=2, skip_bad=True)
    assert rep.n_kept == 7 and any('c3.png' in why for _, why in rep.skipped)


def test_image_without_mask(tmp):
    "A broken pair: named in the error (nothing written); --skip_bad prepares the rest and lists it in excluded.csv."
    make(tmp / 'raw' / 'D')
    save(tmp / 'raw/D/images/lonely.png', lesion()[0])
    with pytest.raises(DataError, match=r'(?s)lonely\.png: no mask found.*--skip_bad'):
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
    assert not (tmp / 'out' / 'processed' / 'D').exists()
    rep = prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2, skip_bad=True)
    assert rep.n_kept == 8 and rep.n_read == 9 and any('lonely.png' in f for f, _ in rep.skipped)
    assert 'lonely.png' in (tmp / 'out' / 'processed' / 'D' / 'excluded.csv').read_text()


def test_mask_size_mismatch(prepared):
    tmp, snap = prepared
    save(tmp / 'raw/D/masks/c2.png', np.zeros((30, 30), np.uint8))
    with pytest.raises(DataError, match=r'c2\.png: mask size 30x30 differs from its image .*c2\.png \(48x40\)'):
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
    assert_untouched(tmp, snap)


def test_unknown_layout(tmp):
    (tmp / 'raw' / 'D' / 'stuff').mkdir(parents=True)
    (tmp / 'raw' / 'D' / 'notes.txt').write_text('x')
    with pytest.raises(DataError, match=r"unknown dataset layout \(contains \['notes.txt', 'stuff'\]\)"):
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D')
    assert not (tmp / 'out' / 'processed' / 'D').exists()


def test_empty_dataset_folder(tmp):
    (tmp / 'raw' / 'D').mkdir(parents=True)
    with pytest.raises(DataError, match='unknown dataset layout'):
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D')


def test_edited_splits_reused_and_validated(prepared):
    tmp, snap = prepared
    sp = tmp / 'out/processed/D/splits.json'
    s = json.loads(sp.read_text())
    moved = s['folds'][0]['train'][0]
    s['test'].append(moved)                                    # a custom split: move one name to test
    for f in s['folds']:
        f['train'] = [n for n in f['train'] if n != moved]; f['val'] = [n for n in f['val'] if n != moved]
    sp.write_text(json.dumps(s))
    rep = prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
    assert rep.reused_splits and moved in rep.splits['test']
    assert (tmp / 'out/processed/D/test/images' / f'{moved}.png').exists()
    s['test'].append('ghost'); sp.write_text(json.dumps(s))
    with pytest.raises(DataError, match=r"does not match the dataset .*'ghost'"):
        prepare_dataset(tmp / 'raw' / 'D', tmp / 'out', 'D', folds=2)
