"""BUS-BRA (../shared/data/BUSBRA, 1875 images, 1064 patients): prepared whole, its patients never straddle a split.
Skipped when the folder is absent."""
import csv, json
from collections import defaultdict
import pytest
from ultrarefiner.paths import shared_data_dir

BUSBRA = shared_data_dir() / 'BUSBRA'
pytestmark = pytest.mark.skipif(not BUSBRA.is_dir(), reason=f"real BUS-BRA not found at {BUSBRA} (set ULTRAREFINER_SHARED); skipped")


@pytest.fixture(scope='module')
def prepared(tmp_path_factory):
    from ultrarefiner.data.layouts import prepare
    out = tmp_path_factory.mktemp('busbra')
    rep, = prepare(BUSBRA.parent, ['BUSBRA'], out=out, verbose=False)
    return rep, out / 'processed' / 'BUSBRA'


def test_every_image_kept(prepared):
    rep, root = prepared
    assert (rep.layout, rep.n_read, rep.n_kept, rep.n_blank, len(rep.skipped)) == ('busbra', 1875, 1875, 0, 0)


def test_no_patient_straddles_a_split(prepared):
    "Patients are bus_data.csv's `Case`: none has images in the test split and in training, or in a fold's train and val."
    _, root = prepared
    case = {r['ID']: r['Case'] for r in csv.DictReader(open(BUSBRA / 'bus_data.csv'))}
    s = json.loads((root / 'splits.json').read_text())
    parts = [('test', s['test'])] + [(f'fold {k} {p}', f[p]) for k, f in enumerate(s['folds']) for p in ('train', 'val')]
    where = defaultdict(set)
    for name, names in parts:
        for n in names: where[case[n]].add(name)
    assert len(where) == 1064
    for c, ps in where.items():
        assert not ('test' in ps and len(ps) > 1), f"patient {c} is in the test split and in {sorted(ps - {'test'})}"
        for k in range(len(s['folds'])):
            assert not {f'fold {k} train', f'fold {k} val'} <= ps, f"patient {c} is in fold {k}'s train and val"
    # a patient with several images (left and right breast) exists and stayed together
    assert any(sum(case[n] == c for n in s['test']) > 1 for c in {case[n] for n in s['test']})


def test_official_partition_keeps_patients_and_parts():
    "`prepare --splits official:K` on BUS-BRA: the authors' part K is the test split, their other four parts the folds."
    from ultrarefiner.data.splits import official_partition, partition_splits, check_splits
    part_of, k, src = official_partition(BUSBRA, 'busbra', 'official:2')
    case = {r['ID']: r['Case'] for r in csv.DictReader(open(BUSBRA / 'bus_data.csv'))}
    s = partition_splits(sorted(case), part_of, k, src)
    assert len(s['test']) == 385 and len(s['folds']) == 4 and sorted(len(f['val']) for f in s['folds']) == [365, 366, 376, 383]
    check_splits(s, case)                                         # no patient straddles (raises otherwise)
