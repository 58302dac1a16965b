"""The `train_step` benchmark's two shapes in snnTorch, for a side-by-side comparison.

Same networks, neuron defaults and step as `sdk/benches/train_step.rs`: forward over all T
steps, cross-entropy on the output spike counts, backward, Adam (lr 5e-3); input encoding
excluded (inputs drawn once). LIF: beta 0.9, threshold 1, reset by subtraction, bias,
fast-sigmoid surrogate with slope 25 (our defaults, set explicitly here).

    python3 -m venv /tmp/snntorch && /tmp/snntorch/bin/pip install torch==2.15.0 snntorch==1.0.0
    /tmp/snntorch/bin/python sdk/benches/snntorch_train_step.py          # 2 threads

`--loop per-step` (default) is the snnTorch tutorial's loop (the Linear layer called inside
the time loop); `--loop hoisted` applies the input Linear to all T steps in one matmul first,
the fastest plain-snnTorch form we know. Prints samples/s: the median of `--repeats` timed
runs of `--steps` training steps each, after warm-up.
"""

import argparse
import gzip
import os
import statistics
import time

import torch
import torch.nn as nn
import snntorch as snn
from snntorch import surrogate

HERE = os.path.dirname(os.path.abspath(__file__))


def lif():
    return snn.Leaky(beta=0.9, threshold=1.0, spike_grad=surrogate.fast_sigmoid(slope=25))


class Digits(nn.Module):
    """64 -> 128 -> 10 LIF."""

    def __init__(self, hoisted):
        super().__init__()
        self.hoisted = hoisted
        self.fc1, self.lif1 = nn.Linear(64, 128), lif()
        self.fc2, self.lif2 = nn.Linear(128, 10), lif()

    def forward(self, x):  # x [T, B, 64]
        mem1, mem2 = self.lif1.init_leaky(), self.lif2.init_leaky()
        cur1_all = self.fc1(x) if self.hoisted else None
        out = []
        for t in range(x.shape[0]):
            cur1 = cur1_all[t] if self.hoisted else self.fc1(x[t])
            spk1, mem1 = self.lif1(cur1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


class Shd(nn.Module):
    """700 -> 256 recurrent LIF (RLeaky, all-to-all) -> 20 LIF."""

    def __init__(self, hoisted):
        super().__init__()
        self.hoisted = hoisted
        self.fc1 = nn.Linear(700, 256)
        self.rlif1 = snn.RLeaky(
            beta=0.9,
            threshold=1.0,
            linear_features=256,
            spike_grad=surrogate.fast_sigmoid(slope=25),
        )
        self.fc2, self.lif2 = nn.Linear(256, 20), lif()

    def forward(self, x):  # x [T, B, 700]
        spk1, mem1 = self.rlif1.init_rleaky()
        mem2 = self.lif2.init_leaky()
        cur1_all = self.fc1(x) if self.hoisted else None
        out = []
        for t in range(x.shape[0]):
            cur1 = cur1_all[t] if self.hoisted else self.fc1(x[t])
            spk1, mem1 = self.rlif1(cur1, spk1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)


def digits_data(gen):
    path = os.path.join(HERE, "..", "data", "digits.csv.gz")
    rows = [
        [float(v) for v in line.split(",")]
        for line in gzip.open(path, "rt").read().splitlines()[:128]
    ]
    p = torch.tensor([r[:64] for r in rows]) / 16.0
    y = torch.tensor([int(r[64]) for r in rows])
    x = (torch.rand(25, 128, 64, generator=gen) < p).float()
    return x, y


def shd_data(gen):
    x = (torch.rand(100, 64, 700, generator=gen) < 0.05).float()
    y = torch.arange(64) % 20
    return x, y


def measure(name, net, x, y, steps, repeats):
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x).sum(0), y)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    rates = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        rates.append(steps * x.shape[1] / (time.perf_counter() - t0))
    med = statistics.median(rates)
    print(f"{name}: {med:,.0f} samples/s (runs: {', '.join(f'{r:,.0f}' for r in rates)})")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--loop", choices=["per-step", "hoisted"], default="per-step")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--only", choices=["digits", "shd"])
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    gen = torch.Generator().manual_seed(7)
    hoisted = a.loop == "hoisted"
    print(
        f"torch {torch.__version__}, snntorch {snn.__version__}, "
        f"{torch.get_num_threads()} threads, loop {a.loop}"
    )
    if a.only in (None, "digits"):
        x, y = digits_data(gen)
        measure("digits 64-128-10, T 25, batch 128", Digits(hoisted), x, y, 20, a.repeats)
    if a.only in (None, "shd"):
        x, y = shd_data(gen)
        measure("shd 700-256r-20, T 100, batch 64", Shd(hoisted), x, y, 3, a.repeats)


if __name__ == "__main__":
    main()
