"""JapaneseVowels training in snnTorch, for a side-by-side comparison with `series_zoo jv`.

Same network and recipe as `cargo run -p snn-sdk --example series_zoo -- jv` and
`models/zoo/japanese_vowels.toml`: 12 channels -> 128 recurrent LIF (RLeaky, all-to-all) ->
9 LIF, direct input (each channel standardised with the training split's mean and standard
deviation, fed as input current every step), batch 32, Adam lr 5e-3, cross-entropy on the
output spike counts of each utterance's own frames. LIF: beta 0.9, threshold 1, reset by
subtraction, bias, fast-sigmoid surrogate with slope 25 (our defaults, set explicitly).

Batches of unequal length are handled the way a plain snnTorch user does: the batch is
zero-padded to its longest utterance, the network runs every padded step, and the output
spikes are multiplied by a 0/1 mask before counting. Inputs are tensors prepared once
(loading and padding excluded from the timing, as in ours). Prints the training samples/s of
each epoch (after one warm-up epoch), the median, samples per CPU-second of the process (all
threads: the fairer figure when the machine is shared, since a busy machine stretches the wall
clock of every run), and the test accuracy at the end.

    cargo xtask bench-snntorch --only jv                         # 2 threads, 10 epochs
    target/snntorch-venv/bin/python sdk/benches/snntorch_jv_train.py --epochs 80
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
DATA = os.path.join(HERE, "..", "data")


def read_ts(path):
    """The UEA `.ts` file as (list of [T_i, C] tensors, labels 0..K-1)."""
    series, labels, classes = [], [], None
    data = False
    for line in gzip.open(path, "rt"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not data:
            if line.lower().startswith("@classlabel"):
                classes = line.split()[2:]
            data = line.lower() == "@data"
            continue
        *chans, label = line.split(":")
        cols = [[float(v) for v in c.split(",")] for c in chans]
        series.append(torch.tensor(cols).T.contiguous())
        labels.append(classes.index(label))
    return series, labels


class Jv(nn.Module):
    """12 -> hidden recurrent LIF -> 9 LIF."""

    def __init__(self, hidden):
        super().__init__()
        sg = surrogate.fast_sigmoid(slope=25)
        self.fc1 = nn.Linear(12, hidden)
        self.rlif1 = snn.RLeaky(
            beta=0.9, threshold=1.0, linear_features=hidden, spike_grad=sg
        )
        self.fc2 = nn.Linear(hidden, 9)
        self.lif2 = snn.Leaky(beta=0.9, threshold=1.0, spike_grad=sg)

    def forward(self, x):  # x [T, B, 12]
        spk1, mem1 = self.rlif1.init_rleaky()
        mem2 = self.lif2.init_leaky()
        cur1_all = self.fc1(x)  # the input projection of all steps in one matmul
        out = []
        for t in range(x.shape[0]):
            spk1, mem1 = self.rlif1(cur1_all[t], spk1, mem1)
            spk2, mem2 = self.lif2(self.fc2(spk1), mem2)
            out.append(spk2)
        return torch.stack(out)  # [T, B, 9]


def batches(series, labels, idx, size):
    """Padded `[T_max, B, 12]` inputs, `[T_max, B, 1]` masks and labels per batch of `idx`."""
    out = []
    for k in range(0, len(idx), size):
        part = idx[k : k + size]
        t_max = max(series[i].shape[0] for i in part)
        x = torch.zeros(t_max, len(part), 12)
        m = torch.zeros(t_max, len(part), 1)
        for b, i in enumerate(part):
            n = series[i].shape[0]
            x[:n, b] = series[i]
            m[:n, b] = 1.0
        out.append((x, m, torch.tensor([labels[i] for i in part])))
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--epochs", type=int, default=10)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    train, ytr = read_ts(os.path.join(DATA, "JapaneseVowels_TRAIN.ts.gz"))
    test, yte = read_ts(os.path.join(DATA, "JapaneseVowels_TEST.ts.gz"))
    cat = torch.cat(train)
    mean, std = cat.mean(0), cat.std(0)
    train = [(s - mean) / std for s in train]
    test = [(s - mean) / std for s in test]
    net = Jv(a.hidden)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    loss_fn = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(a.seed)
    print(
        f"torch {torch.__version__}, snntorch {snn.__version__}, {torch.get_num_threads()} "
        f"threads; JapaneseVowels 12-{a.hidden}r-9, batch {a.batch}, {len(train)} train"
    )
    rates, cpu_rates = [], []
    for epoch in range(a.epochs + 1):
        order = torch.randperm(len(train), generator=gen).tolist()
        data = batches(train, ytr, order, a.batch)
        t0, c0 = time.perf_counter(), time.process_time()
        for x, m, y in data:
            opt.zero_grad(set_to_none=True)
            counts = (net(x) * m).sum(0)
            loss = loss_fn(counts, y)
            loss.backward()
            opt.step()
        rate = len(train) / (time.perf_counter() - t0)
        cpu_rate = len(train) / max(time.process_time() - c0, 1e-9)
        if epoch > 0:  # epoch 0 is the warm-up
            rates.append(rate)
            cpu_rates.append(cpu_rate)
    print(
        f"jv train: {statistics.median(rates):,.0f} samples/s median "
        f"(epochs: {', '.join(f'{r:,.0f}' for r in rates)}); "
        f"{statistics.median(cpu_rates):,.0f} samples per CPU-second (all threads)"
    )
    correct = 0
    with torch.no_grad():
        for x, m, y in batches(test, yte, list(range(len(test))), 64):
            correct += ((net(x) * m).sum(0).argmax(1) == y).sum().item()
    print(f"jv test accuracy after {a.epochs} epochs: {100 * correct / len(test):.2f} %")


if __name__ == "__main__":
    main()
