"""Digits accuracy in snnTorch, trained the way `models/zoo/digits.toml` trains ours.

The bundled digits (sdk/data/digits.csv.gz), 20 % held out per class (seeded), Bernoulli rate
coding of pixel/16 over T = 25 steps, 64 -> 128 -> 10 Leaky (beta 0.9, threshold 1, subtract
reset, fast-sigmoid slope 25). Two recipes:

- `zoo`: our zoo config: mse_count_loss(correct 0.8, incorrect 0.2), Adam 2e-3 with a cosine
  schedule, batch 16, 40 epochs;
- `tutorial`: the snnTorch tutorial's recipe: ce_rate_loss, Adam 5e-3, batch 128, 20 epochs.

Prints test accuracy (predicted class = most output spikes) and training wall time per seed.
The split differs from ours (torch's generator, not our SplitMix64): compare across seeds.

    /tmp/snntorch/bin/python sdk/benches/snntorch_digits_train.py --recipe zoo --seeds 0 1 2
"""

import argparse
import gzip
import os
import time

import torch
import torch.nn as nn
import snntorch as snn
from snntorch import functional as SF
from snntorch import surrogate

HERE = os.path.dirname(os.path.abspath(__file__))
T = 25


def load():
    path = os.path.join(HERE, "..", "data", "digits.csv.gz")
    rows = [[float(v) for v in l.split(",")] for l in gzip.open(path, "rt").read().splitlines()]
    x = torch.tensor([r[:64] for r in rows]) / 16.0
    y = torch.tensor([int(r[64]) for r in rows])
    return x, y


def split(x, y, seed):
    """Stratified: 20 % of every class held out."""
    g = torch.Generator().manual_seed(seed)
    tr, te = [], []
    for c in range(10):
        idx = (y == c).nonzero().flatten()
        idx = idx[torch.randperm(len(idx), generator=g)]
        k = round(0.2 * len(idx))
        te.append(idx[:k])
        tr.append(idx[k:])
    tr, te = torch.cat(tr), torch.cat(te)
    return x[tr], y[tr], x[te], y[te]


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        sg = surrogate.fast_sigmoid(slope=25)
        self.fc1, self.lif1 = nn.Linear(64, 128), snn.Leaky(beta=0.9, spike_grad=sg)
        self.fc2, self.lif2 = nn.Linear(128, 10), snn.Leaky(beta=0.9, spike_grad=sg)

    def forward(self, x):  # [T, B, 64]
        m1, m2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        out = []
        for t in range(x.shape[0]):
            s1, m1 = self.lif1(self.fc1(x[t]), m1)
            s2, m2 = self.lif2(self.fc2(s1), m2)
            out.append(s2)
        return torch.stack(out)


def encode(p, g):
    return (torch.rand(T, *p.shape, generator=g) < p).float()


def run(recipe, seed, xs, ys):
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed + 1000)
    xtr, ytr, xte, yte = split(xs, ys, seed)
    net = Net()
    if recipe == "zoo":
        epochs, batch, lr = 40, 16, 2e-3
        loss_fn = SF.mse_count_loss(correct_rate=0.8, incorrect_rate=0.2)
    else:
        epochs, batch, lr = 20, 128, 5e-3
        loss_fn = SF.ce_rate_loss()
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    steps = epochs * ((len(xtr) + batch - 1) // batch)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps) if recipe == "zoo" else None
    t0 = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        for i in range(0, len(xtr), batch):
            b = perm[i : i + batch]
            loss = loss_fn(net(encode(xtr[b], g)), ytr[b])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            if sched:
                sched.step()
    wall = time.perf_counter() - t0
    with torch.no_grad():
        pred = net(encode(xte, g)).sum(0).argmax(1)
    acc = (pred == yte).float().mean().item()
    print(f"{recipe} seed {seed}: test accuracy {100 * acc:.2f} %, training {wall:.1f} s")
    return acc


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", choices=["zoo", "tutorial"], default="zoo")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--threads", type=int, default=2)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    xs, ys = load()
    accs = [run(a.recipe, s, xs, ys) for s in a.seeds]
    print(f"{a.recipe}: mean {100 * sum(accs) / len(accs):.2f} %, worst {100 * min(accs):.2f} %")


if __name__ == "__main__":
    main()
