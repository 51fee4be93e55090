"""The bundled weights are what their card says: every file's SHA-1, the preset, the run that trained them, the size
limit, and test-split scores recorded by `segment` itself (BENCHMARKS.md quotes the same numbers)."""
import json
from pathlib import Path
import pytest
from ultrarefiner.io import file_sha1
from ultrarefiner.checkpoint import read_checkpoint, stored_preset
from ultrarefiner.inference.segment import WEIGHTS, bundled_card, bundled_model

ROOT = Path(__file__).resolve().parent.parent


def test_card_matches_the_files():
    card = bundled_card()
    assert card['preset'] == 'lite' and card['files'], card
    for name, sha in card['files'].items():
        assert file_sha1(WEIGHTS / name) == sha, name
        sd, cfg = read_checkpoint(WEIGHTS / name)
        assert stored_preset(cfg).name == 'lite' and cfg['dataset'] == card['trained_on']
        assert all(v.dtype.is_floating_point is False or str(v.dtype) == 'torch.float16' for v in sd.values())   # shipped in fp16
    assert card['size_bytes'] == sum((WEIGHTS / n).stat().st_size for n in card['files']) <= 10e6
    for d in card['trained_on'].split('+'):                          # each training dataset's test split, scored by segment
        t = card['test'][d]; assert t['n'] > 0 and 0 < t['coarse'] <= 1 and 0 < t['refined'] <= 1
    md = (WEIGHTS / 'MODEL_CARD.md').read_text()
    assert 'Not a medical device' in md and 'BUS-BRA' in md and 'Data in Brief' in md


def test_benchmarks_quote_the_card():
    card = bundled_card(); text = (ROOT / 'BENCHMARKS.md').read_text()
    for d, t in card['test'].items(): assert f"{t['refined']:.4f}" in text, (d, t)


def test_bundled_model_builds():
    m = bundled_model()
    assert len(m.coarse_models) == len(bundled_card()['files']) and m.flip


def test_gate_is_the_cards():
    "A gate in the card is the one the bundled refiner applies, fitted on held-out validation images, and the card says what it chose."
    card = bundled_card(); g = card['refiner'].get('gate')
    m = bundled_model()
    if g is None:
        assert m.refiner.gate is None and 'gate' not in card; return
    assert m.refiner.gate is not None and m.refiner.gate.to_dict() == g
    assert card['gate']['fitted_on'] and all(n > 0 for n in card['gate']['fitted_on'].values())
    for d, t in card['test'].items(): assert sum(t['gate'].values()) == t['n'], (d, t)
    assert 'gate' in (WEIGHTS / 'MODEL_CARD.md').read_text()


def test_prompts_are_the_held_out_choice():
    "Prompt settings searched with the gate: the card keeps the best gated held-out Dice, and the bundled refiner reads its box so."
    card = bundled_card(); tried = card.get('gate', {}).get('tried')
    if not tried: pytest.skip("this bundle's gate was fitted without a prompt search")
    best = max(tried, key=lambda t: t['gated_dice'])
    p = bundled_model().refiner.prompts
    for k, v in best.items():
        if not k.endswith('_dice'): assert card['refiner'][k] == v and getattr(p, k) == v, (k, v, card['refiner'])
    assert 'Prompt settings chosen' in (WEIGHTS / 'MODEL_CARD.md').read_text()
