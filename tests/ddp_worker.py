"""Worker for tests/test_ddp.py: one Loop run; under torchrun it is data-parallel (gloo on CPU)."""
import sys

import torch
from torch.utils.data import Dataset

from ultrarefiner.runtime import seed_everything
from ultrarefiner.training.loop import Loop, init_distributed, poly_schedule


class Regression(Dataset):
    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(64, 8, generator=g)
        self.y = (self.x @ torch.randn(8, 1, generator=g)).tanh()

    def __len__(self):
        return len(self.x)

    def __getitem__(self, i):
        return self.x[i], self.y[i]


if __name__ == '__main__':
    out, batch = sys.argv[1], int(sys.argv[2])
    init_distributed()
    seed_everything(0)
    model = torch.nn.Sequential(torch.nn.Linear(8, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    ds = Regression()
    sch = poly_schedule(opt, 3 * (64 // 8))
    step = lambda m, b: (((m(b[0]) - b[1]) ** 2).mean(), {})
    evaluate = lambda m: {'dice': -float(((m(ds.x) - ds.y) ** 2).mean())}
    # fp32: the 1e-5 equivalence is about data parallelism, not about bf16 rounding
    Loop(model, opt, sch, step, evaluate, out, epochs=3, batch_size=batch, verbose=False, amp=False).fit(ds)
