"""`compile=True` (torch.compile, inductor on CPU) trains to the same weights as eager mode."""
import shutil

import pytest
import torch

from ultrarefiner.runtime import seed_everything
from ultrarefiner.training.loop import Loop, poly_schedule


def _fit(out, compile):
    seed_everything(0)
    g = torch.Generator().manual_seed(0)
    x = torch.randn(32, 8, generator=g)
    y = (x @ torch.randn(8, 1, generator=g)).tanh()
    ds = torch.utils.data.TensorDataset(x, y)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    step = lambda m, b: (((m(b[0]) - b[1]) ** 2).mean(), {})
    evaluate = lambda m: {'dice': -float(((m(x) - y) ** 2).mean())}
    r = Loop(model, opt, poly_schedule(opt, 2 * 4), step, evaluate, out, epochs=2, batch_size=8, verbose=False,
             amp=False, compile=compile).fit(ds)
    return model, r


@pytest.mark.slow
@pytest.mark.skipif(shutil.which('cc') is None, reason='torch.compile on CPU needs a C compiler')
def test_compile_matches_eager(tmp_path):
    eager, re = _fit(tmp_path / 'eager', False)
    compiled, rc = _fit(tmp_path / 'compiled', True)
    assert rc['complete'] and len(rc['history']) == 2
    for (k, a), b in zip(eager.state_dict().items(), compiled.state_dict().values()):
        assert torch.allclose(a, b, atol=1e-5), (k, (a - b).abs().max())
    assert abs(re['best']['dice'] - rc['best']['dice']) < 1e-5
    assert (tmp_path / 'compiled/best.pth').exists()
