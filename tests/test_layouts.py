"""Every raw layout, on tiny fixtures generated here in that exact layout."""
import csv
import json
import numpy as np
import pytest
from PIL import Image
from conftest import save, lesion
from ultrarefiner.data.layouts import detect_layout, prepare_dataset, scan
from ultrarefiner.data.files import read_mask


def folds_ok(splits, group_of):
    test = set(splits['test'])
    for f in splits['folds']:
        assert not {group_of[n] for n in f['train']} & {group_of[n] for n in f['val']}
    assert not {group_of[n] for n in test} & {group_of[n] for f in splits['folds'] for n in f['val']}


def test_busi_layout(tmp):
    root = tmp / 'B'
    for i in range(8):
        for cls in ('benign', 'malignant'):
            img, m = lesion(i=i)
            save(root / cls / f'{cls} ({i + 1}).png', img)
            save(root / cls / f'{cls} ({i + 1})_mask.png', m > 0, mode=None)   # 1-bit mask
        save(root / 'normal' / f'normal ({i + 1}).png', lesion(i=i)[0])
        save(root / 'normal' / f'normal ({i + 1})_mask.png', np.zeros((40, 48, 3), np.uint8))  # RGB blank
    extra = np.zeros((40, 48, 4), np.uint8); extra[30:35, 30:40] = 255            # RGBA second lesion
    save(root / 'benign' / 'benign (1)_mask_1.png', extra)
    assert detect_layout(root) == 'busi'
    rep = prepare_dataset(root, tmp / 'out', 'B', folds=2)
    assert (rep.n_read, rep.n_kept, rep.n_blank, rep.n_merged) == (24, 16, 8, 1)
    split = 'test' if 'benign (1)' in rep.splits['test'] else 'train'
    merged = read_mask(tmp / 'out/processed/B' / split / 'masks/benign (1).png')
    assert merged[32, 35] and merged[10, 12]
    assert {k[0] for k in rep.counts} == {'benign', 'malignant'}


def test_busbra_layout(tmp):
    root = tmp / 'BUSBRA'
    rows = []
    for c in range(1, 11):
        for side in ('l', 'r'):
            img, m = lesion(i=c)
            save(root / 'Images' / f'bus_{c:04d}-{side}.png', img)
            save(root / 'Masks' / f'mask_{c:04d}-{side}.png', m)
            rows.append({'ID': f'bus_{c:04d}-{side}', 'Pathology': 'malignant' if c % 3 == 0 else 'benign', 'BIRADS': '4'})
    with open(root / 'bus_data.csv', 'w', newline='') as f:
        w = csv.DictWriter(f, fieldnames=['ID', 'Pathology', 'BIRADS']); w.writeheader(); w.writerows(rows)
    layout, recs = scan(root)
    assert layout == 'busbra' and len(recs) == 20
    r = {x.name: x for x in recs}['bus_0003-r']
    assert (r.group, r.label) == ('bus_0003', 'malignant')
    rep = prepare_dataset(root, tmp / 'out', 'BUSBRA', folds=3)
    group_of = {x.name: x.group for x in recs}
    test = set(rep.splits['test'])
    for c in range(1, 11):
        assert (f'bus_{c:04d}-l' in test) == (f'bus_{c:04d}-r' in test)
    folds_ok(rep.splits, group_of)
    with open(root / '5-fold-cv.csv', 'w', newline='') as f:          # the authors' partition: patient c in part c % 5 + 1
        w = csv.DictWriter(f, fieldnames=['ID', 'kFold']); w.writeheader()
        w.writerows({'ID': r['ID'], 'kFold': int(r['ID'][4:8]) % 5 + 1} for r in rows)
    off = prepare_dataset(root, tmp / 'off', 'BUSBRA', splits='official:3')
    assert sorted(off.splits['test']) == ['bus_0002-l', 'bus_0002-r', 'bus_0007-l', 'bus_0007-r'] and len(off.splits['folds']) == 4
    assert '5-fold-cv.csv, part 3 as the test split' in off.splits['source']
    assert prepare_dataset(root, tmp / 'off', 'BUSBRA', splits='official:3').reused_splits          # a rerun reuses it
    with pytest.raises(Exception, match=r'--splits official:1 \(it has .*part 3'): prepare_dataset(root, tmp / 'off', 'BUSBRA', splits='official:1')
    with pytest.raises(Exception, match="--splits garbage: give 'kit'"): prepare_dataset(root, tmp / 'x', 'BUSBRA', splits='garbage')


def test_seed_busbra_train_val_tree(tmp):
    "The seed README's BUSBRA tree, BUSBRA/{train,val}/{images,masks}: both parts pooled, then grouped folds (a case never straddles)."
    root = tmp / 'BUSBRA'
    for c in range(1, 13):
        part = 'val' if c > 9 else 'train'
        for side in ('l', 'r'):
            img, m = lesion(i=c)
            save(root / part / 'images' / f'bus_{c:04d}-{side}.png', img)
            save(root / part / 'masks' / f'mask_{c:04d}-{side}.png', m)
    layout, recs = scan(root)
    assert layout == 'train_val' and len(recs) == 24 and {r.split for r in recs} == {''}
    assert {x.name: x for x in recs}['bus_0011-l'].group == 'bus_0011'
    rep = prepare_dataset(root, tmp / 'out', 'BUSBRA', folds=3)
    assert rep.n_kept == 24 and len(rep.splits['test']) + sum(len(f['val']) for f in rep.splits['folds']) == 24
    folds_ok(rep.splits, {x.name: x.group for x in recs})
    test = set(rep.splits['test'])
    for c in range(1, 13): assert (f'bus_{c:04d}-l' in test) == (f'bus_{c:04d}-r' in test)
    # with a test/ part as well, that part is the test split as given
    for c in (13, 14):
        img, m = lesion(i=c)
        save(root / 'test' / 'images' / f'bus_{c:04d}-l.png', img); save(root / 'test' / 'masks' / f'mask_{c:04d}-l.png', m)
    rep = prepare_dataset(root, tmp / 'out2', 'BUSBRA', folds=3)
    assert sorted(rep.splits['test']) == ['bus_0013-l', 'bus_0014-l']


def test_bus_layout(tmp):
    root = tmp / 'BUS'
    for i in range(10):
        img, m = lesion(i=i)
        save(root / 'original' / f'{i:06d}.png', img); save(root / 'GT' / f'{i:06d}.png', m)
    assert detect_layout(root) == 'bus'
    rep = prepare_dataset(root, tmp / 'out', 'BUS', folds=2)
    assert rep.n_kept == 10 and set(rep.counts) <= {('-', 'train'), ('-', 'test')}


def test_bus_uc_layout(tmp):
    root = tmp / 'BUS_UC'
    for i in range(10):
        img, m = lesion(i=i)
        save(root / 'All' / 'images' / f'{i + 1:03d}.png', img); save(root / 'All' / 'masks' / f'{i + 1:03d}.png', m)
    assert detect_layout(root) == 'bus_uc'
    assert prepare_dataset(root, tmp / 'out', 'BUS_UC', folds=2).n_kept == 10


def test_bus_uclm_layout(tmp):
    root = tmp / 'BUS_UCLM'
    lines = ['Image;Label;Age']
    for p in range(5):
        for k in range(2):
            name = f'{"ABCDE"[p]}{p:03d}_{k:03d}'
            img, m = lesion(i=2 * p + k)
            rgb = np.zeros((*m.shape, 3), np.uint8)
            rgb[..., 1 if p % 2 == 0 else 0] = m                                      # green benign, red malignant
            save(root / 'images' / f'{name}.png', img); save(root / 'masks' / f'{name}.png', rgb)
            lines.append(f'{name}.png;;50')                                            # label column left empty
    (root / 'INFO.csv').write_text('\n'.join(lines) + '\n')
    layout, recs = scan(root)
    assert layout == 'bus_uclm'
    r = {x.name: x for x in recs}
    assert r['A000_001'].group == 'A000' and r['A000_001'].label == 'benign' and r['B001_000'].label == 'malignant'
    rep = prepare_dataset(root, tmp / 'out', 'BUS_UCLM', folds=2)
    folds_ok(rep.splits, {x.name: x.group for x in recs})
    for p in 'ABCDE':
        pair = [n for n in r if n.startswith(p)]
        assert len({n in rep.splits['test'] for n in pair}) == 1


def test_processed_layout_keeps_test_split(tmp):
    root = tmp / 'P'
    for split, n, off in (('train', 8, 0), ('test', 3, 100)):
        for i in range(n):
            img, m = lesion(i=i + off)
            save(root / split / 'images' / f'{split}_{i}.png', img); save(root / split / 'masks' / f'{split}_{i}.png', m)
    assert detect_layout(root) == 'processed'
    rep = prepare_dataset(root, tmp / 'out', 'P', folds=2)
    assert sorted(rep.splits['test']) == ['test_0', 'test_1', 'test_2']


def test_generic_layout_16bit_and_odd_names(tmp):
    root = tmp / 'MINE'
    names = ['case 1', 'case (2)', 'läsion_ü', 'x-4', 'y5', 'z6']
    for i, n in enumerate(names):
        img, m = lesion(i=i)
        save(root / 'images' / f'{n}.png', img.astype(np.uint16) * 257)
        save(root / 'masks' / f'{n}_mask.png', (m > 0).astype(np.uint16) * 65535)
    rep = prepare_dataset(root, tmp / 'out', 'MINE', folds=2)
    assert rep.layout == 'generic' and rep.n_kept == 6
    out = sorted(p.stem for p in (tmp / 'out/processed/MINE').rglob('images/*.png'))
    assert out == sorted(names)
    a = np.array(Image.open(next((tmp / 'out/processed/MINE').rglob('images/case 1.png'))))
    assert a.dtype == np.uint8 and a.max() > 150


def test_processed_layout_with_leaking_test_split_is_refused(tmp):
    root = tmp / 'P'
    for split, n in (('train', 6), ('test', 2)):
        for i in range(n):
            img, m = lesion(i=i)                                   # test_0 is pixel-identical to train_0
            save(root / split / 'images' / f'{split}_{i}.png', img); save(root / split / 'masks' / f'{split}_{i}.png', m)
    from ultrarefiner.errors import DataError
    with pytest.raises(DataError, match=r"Leakage: groups .* appear in both test and train"):
        prepare_dataset(root, tmp / 'out', 'P', folds=2)
    assert not (tmp / 'out/processed/P').exists()
