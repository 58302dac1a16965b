#!/usr/bin/env python3
"""Makes the NIR fixtures of sdk/tests/nir_fixtures.rs with the tools themselves (issue #15).

Run on demand, not in CI:

    python3 -m venv /tmp/nirenv && /tmp/nirenv/bin/pip install -r tests/nir/requirements.txt
    /tmp/nirenv/bin/python tests/nir/make_fixtures.py        # writes tests/nir/fixtures/
    /tmp/nirenv/bin/python tests/nir/make_fixtures.py rockpool nir_cuba_cycle   # only those

Every fixture is `<name>.nir` (written by the tool's own exporter, or by `nir.write` for the
hand-built quirk cases) and `<name>.json`: the tool and version, the Euler step `dt` to import
with, and for a few fixed input spike trains (64 inputs, T steps, seeded) the output spikes the
tool's own simulator gives:

- snnTorch 1.0: the original `snn.Leaky` / `RLeaky` / `Synaptic` model, run step by step
  (`reset_mechanism="zero"`, `reset_delay=False`: the same-step reset NIR describes; the subtract
  reset is not exported as such). snnTorch's exporter assumes dt = 1e-4.
- Norse 1.1: the original `LIFBoxCell` model (dt = 1e-3 inside Norse). Its exporter writes
  `tau = dt/tau_mem_inv`, so the file reproduces the model at an import dt of 1e-6.
  `norse_li`: a `LIBoxCell` readout (exported as NIR `LI`); its JSON holds Norse's readout
  membrane per step (`"readout"`) instead of output spikes.
- Rockpool 3.1: the original `LIFTorch` model (`max_spikes_per_dt=1`), run by Rockpool. Its
  exporter writes a CubaLIF whose NIR (Euler) reading is not Rockpool's model: the fixture's
  JSON says `"semantics": "rockpool"`, i.e. `snn import --semantics rockpool` (exponential
  decays, the current decays after its input, subtract reset, spike at `v >= v_threshold`).
- sinabs 3.1: the original `IAFSqueeze` model (reset to zero, one spike per step), exported as
  IF; dt does not matter for IF.
- nir 1.0.8 (hand-built: 0-d scalars, an Input typed [1, 64], gzip or no compression, nested
  subgraphs, Scale, Flatten, IF, Threshold, per-neuron thresholds, a recurrent cycle): the NIR
  reference semantics in float32 numpy (`reference()` below: forward Euler, strict `v > v_th`,
  reset in the same step, a cycle delivers the previous step's spikes).

The shapes are digits-shaped (64 inputs, 10 outputs) so an imported fixture also exports with
the bundled digits data and runs under `cargo xtask hil`.
"""
import json
import pathlib

import numpy as np
import nir

OUT = pathlib.Path(__file__).resolve().parent / "fixtures"
T = 25
SAMPLES = 3
IN, HID, CLS = 64, 32, 10


def inputs(seed):
    # 10 % density: a sample is ~160 events, 4 bytes each, inside the board link's 1 KiB frame.
    rng = np.random.default_rng(seed)
    return [(rng.random((T, IN)) < 0.1).astype(np.float32) for _ in range(SAMPLES)]


def save(name, tool, dt, xs, ys, note="", semantics=None):
    meta = {
        "tool": tool,
        "dt": dt,
        "steps": T,
        "note": note,
        "samples": [
            {"input": x.astype(int).tolist(), "spikes": np.asarray(y).astype(int).tolist()}
            for x, y in zip(xs, ys)
        ],
    }
    if semantics is not None:  # `snn import --semantics`; absent means NIR's own
        meta["semantics"] = semantics
    (OUT / f"{name}.json").write_text(json.dumps(meta, separators=(",", ":")) + "\n")
    counts = [int(np.asarray(y).sum()) for y in ys]
    print(f"{name}: output spikes per sample {counts}")


# ---------------------------------------------------------------- snnTorch
# Per-neuron beta and threshold tensors: the exporter fails on scalars ("All parameters must
# have the same shape").
def snntorch_fixtures():
    import torch
    import snntorch as snn
    from snntorch import utils as snn_utils
    from snntorch.export_nir import export_to_nir

    torch.manual_seed(0)
    xs = inputs(1)

    def run(net, x):
        snn_utils.reset(net)
        out = []
        with torch.no_grad():
            for t in range(T):
                out.append(net(torch.from_numpy(x[t : t + 1]))[0].numpy())
        return np.stack(out)

    common = dict(reset_mechanism="zero", reset_delay=False, init_hidden=True)
    beta_h = torch.linspace(0.8, 0.95, HID)
    beta_o = torch.full((CLS,), 0.9)
    leaky = torch.nn.Sequential(
        torch.nn.Linear(IN, HID),
        snn.Leaky(beta=beta_h, threshold=torch.ones(HID), **common),
        torch.nn.Linear(HID, CLS),
        snn.Leaky(beta=beta_o, threshold=torch.ones(CLS), **common),
    )
    with torch.no_grad():
        leaky[0].weight.mul_(3.0)
        leaky[2].weight.mul_(3.0)
    ys = [run(leaky, x) for x in xs]
    snn_utils.reset(leaky)
    g = export_to_nir(leaky, torch.zeros(IN))
    nir.write(OUT / "snntorch_leaky.nir", g)
    save("snntorch_leaky", f"snntorch {snn.__version__}", 1e-4, xs, ys,
         "Linear-Leaky(per-neuron beta)-Linear-Leaky, zero reset, reset_delay=False")

    syn = torch.nn.Sequential(
        torch.nn.Linear(IN, HID),
        snn.Synaptic(alpha=torch.full((HID,), 0.7), beta=torch.full((HID,), 0.85), threshold=torch.ones(HID), **common),
        torch.nn.Linear(HID, CLS),
        snn.Synaptic(alpha=torch.full((CLS,), 0.6), beta=torch.full((CLS,), 0.9), threshold=torch.ones(CLS), **common),
    )
    with torch.no_grad():
        syn[0].weight.mul_(1.5)
        syn[2].weight.mul_(1.5)
    ys = [run(syn, x) for x in xs]
    snn_utils.reset(syn)
    g = export_to_nir(syn, torch.zeros(IN))
    nir.write(OUT / "snntorch_synaptic.nir", g, compression=None)
    save("snntorch_synaptic", f"snntorch {snn.__version__}", 1e-4, xs, ys,
         "Linear-Synaptic-Linear-Synaptic, zero reset, reset_delay=False, uncompressed")

    rec = torch.nn.Sequential(
        torch.nn.Linear(IN, HID),
        snn.RLeaky(beta=torch.full((HID,), 0.9), linear_features=HID, all_to_all=True, threshold=torch.ones(HID), **common),
        torch.nn.Linear(HID, CLS),
        snn.Leaky(beta=torch.full((CLS,), 0.9), threshold=torch.ones(CLS), **common),
    )
    with torch.no_grad():
        rec[0].weight.mul_(3.0)
        rec[2].weight.mul_(3.0)
    ys = [run(rec, x) for x in xs]
    snn_utils.reset(rec)
    g = export_to_nir(rec, torch.zeros(IN))
    nir.write(OUT / "snntorch_rleaky.nir", g)
    save("snntorch_rleaky", f"snntorch {snn.__version__}", 1e-4, xs, ys,
         "Linear-RLeaky(all_to_all, recurrent bias from step 0)-Linear-Leaky, zero reset")


# ---------------------------------------------------------------- Norse
def norse_fixtures():
    import torch
    import norse
    import norse.torch as norse_torch
    from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(1)
    xs = inputs(2)
    model = norse_torch.SequentialState(
        torch.nn.Linear(IN, HID),
        norse_torch.LIFBoxCell(),
        torch.nn.Linear(HID, CLS),
        norse_torch.LIFBoxCell(),
    )
    with torch.no_grad():
        model[0].weight.mul_(40.0)
        model[2].weight.mul_(40.0)
    ys = []
    for x in xs:
        state, out = None, []
        with torch.no_grad():
            for t in range(T):
                z, state = model(torch.from_numpy(x[t : t + 1]), state)
                out.append(z[0].numpy())
        ys.append(np.stack(out))
    g = to_nir(model, torch.zeros(1, IN))
    # 0-d parameters cannot be gzip-compressed (h5py refuses filters on scalars).
    nir.write(OUT / "norse_lifbox.nir", g, compression=None)
    save("norse_lifbox", f"norse {norse.__version__}", 1e-6, xs, ys,
         "Linear-LIFBoxCell-Linear-LIFBoxCell with default (0-d) parameters; tau = dt/tau_mem_inv, so dt = 1e-6")


def norse_li_fixture():
    # A non-spiking readout: Norse's LIBoxCell, exported as NIR `LI` (tau = dt/tau_mem_inv like
    # its LIF). The JSON holds, per sample, the readout membrane per step ("readout", T x 10
    # floats, what Norse's own LIBoxCell returns) instead of output spikes.
    import torch
    import norse
    import norse.torch as norse_torch
    from norse.torch.utils.export_nir import to_nir

    torch.manual_seed(3)
    xs = inputs(5)
    model = norse_torch.SequentialState(
        torch.nn.Linear(IN, HID),
        norse_torch.LIFBoxCell(),
        torch.nn.Linear(HID, CLS),
        norse_torch.LIBoxCell(),
    )
    with torch.no_grad():
        model[0].weight.mul_(40.0)
        model[2].weight.mul_(4.0)
    vs = []
    for x in xs:
        state, out = None, []
        with torch.no_grad():
            for t in range(T):
                v, state = model(torch.from_numpy(x[t : t + 1]), state)
                out.append(v[0].numpy().astype(np.float64))
        vs.append(np.stack(out))
    g = to_nir(model, torch.zeros(1, IN))
    nir.write(OUT / "norse_li.nir", g, compression=None)
    meta = {
        "tool": f"norse {norse.__version__}",
        "dt": 1e-6,
        "steps": T,
        "note": "Linear-LIFBoxCell-Linear-LIBoxCell (a non-spiking LI readout) with default (0-d) "
                "parameters; tau = dt/tau_mem_inv, so dt = 1e-6; readout = Norse's LIBoxCell "
                "membrane per step",
        "samples": [
            {"input": x.astype(int).tolist(), "readout": v.tolist()} for x, v in zip(xs, vs)
        ],
    }
    (OUT / "norse_li.json").write_text(json.dumps(meta, separators=(",", ":")) + "\n")
    print("norse_li: readout max per sample", [float(v.max()) for v in vs])


# ---------------------------------------------------------------- sinabs
def sinabs_fixtures():
    import torch
    import sinabs
    import sinabs.layers as sl
    from sinabs import to_nir

    torch.manual_seed(3)
    xs = inputs(4)

    def iaf():
        return sl.IAFSqueeze(
            batch_size=1,
            spike_fn=sinabs.activation.SingleSpike,
            reset_fn=sinabs.activation.MembraneReset(),
        )

    model = torch.nn.Sequential(torch.nn.Linear(IN, HID), iaf(), torch.nn.Linear(HID, CLS), iaf())
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        model[2].weight.mul_(2.0)
    ys = []
    for x in xs:
        sinabs.reset_states(model)
        with torch.no_grad():
            ys.append(model(torch.from_numpy(x)).numpy())  # (T, CLS): time in the batch axis
    sinabs.reset_states(model)
    g = to_nir(model, torch.zeros(1, IN))
    nir.write(OUT / "sinabs_iaf.nir", g)
    save("sinabs_iaf", f"sinabs {sinabs.__version__}", 1e-4, xs, ys,
         "Linear-IAFSqueeze-Linear-IAFSqueeze, MembraneReset (to zero), SingleSpike; exported as IF")


# ---------------------------------------------------------------- Rockpool
def rockpool_fixtures():
    import torch
    import rockpool
    from rockpool.nn.modules import LIFTorch, LinearTorch, to_nir
    from rockpool.nn.combinators import Sequential

    torch.manual_seed(5)
    xs = inputs(6)
    dt = 1e-3
    # max_spikes_per_dt=1: one spike per step at most (Rockpool's default emits floor(v/thr)
    # spikes per step, which no NIR node describes). Per-neuron time constants.
    tau_syn = torch.linspace(0.004, 0.012, HID)
    tau_mem = torch.linspace(0.01, 0.03, HID)
    model = Sequential(
        LinearTorch((IN, HID), has_bias=False),
        LIFTorch(HID, tau_mem=tau_mem, tau_syn=tau_syn, dt=dt, max_spikes_per_dt=1.0),
        LinearTorch((HID, CLS), has_bias=False),
        LIFTorch(CLS, tau_mem=0.02, tau_syn=0.008, dt=dt, max_spikes_per_dt=1.0),
    )
    with torch.no_grad():
        model[0].weight.mul_(2.0)
        model[2].weight.mul_(2.0)
    ys = []
    for x in xs:
        model.reset_state()
        with torch.no_grad():
            out, _, _ = model(torch.from_numpy(x)[None])
        ys.append(out[0].numpy())
    model.reset_state()
    g = to_nir(model, torch.zeros(1, IN))
    nir.write(OUT / "rockpool_lif.nir", g)
    save("rockpool_lif", f"rockpool {rockpool.__version__}", dt, xs, ys,
         "LinearTorch-LIFTorch(per-neuron taus)-LinearTorch-LIFTorch, max_spikes_per_dt=1, "
         "exported as CubaLIF; import with --semantics rockpool", semantics="rockpool")


# ---------------------------------------------------------------- nir (hand-built) + reference
def reference(layers, x):
    """NIR reference semantics for a chain of (W_ff, b, kind, params, W_rec) layers, float32."""
    f = np.float32
    h = x
    for W, b, kind, p, Wr in layers:
        n = W.shape[0]
        v = np.zeros(n, f)
        i = np.zeros(n, f)
        z = np.zeros(n, f)
        out = []
        for t in range(x.shape[0]):
            I = W @ h[t] + b
            if Wr is not None and t > 0:
                I = I + Wr @ z
            if kind == "LIF":
                v = v + f(p["dt"]) / p["tau"] * (-v + p["r"] * I)
            elif kind == "CubaLIF":
                i = i + f(p["dt"]) / p["tau_syn"] * (-i + p["w_in"] * I)
                v = v + f(p["dt"]) / p["tau_mem"] * (-v + p["r"] * i)
            elif kind == "IF":
                v = v + p["r"] * I
            elif kind == "Threshold":
                v = I
            z = (v > p["th"]).astype(f)
            v = np.where(z > 0, f(0), v).astype(f)
            out.append(z)
        h = np.stack(out)
    return h


def nir_fixtures():
    rng = np.random.default_rng(7)
    f = np.float32
    xs = inputs(3)
    dt = 1e-3

    # 1. 0-d scalars everywhere, Input typed [1, 64], gzip (the nir default).
    W1 = rng.normal(0, 0.6, (HID, IN)).astype(f)
    b1 = rng.normal(0, 0.1, HID).astype(f)
    W2 = rng.normal(0, 0.8, (CLS, HID)).astype(f)
    b2 = np.zeros(CLS, f)
    tau, r, th = f(0.01), f(10.0), f(1.0)
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([1, IN])}),
            "fc1": nir.Affine(weight=W1, bias=b1),
            "lif1": nir.LIF(tau=tau, r=r, v_leak=f(0), v_threshold=th, v_reset=f(0)),
            "fc2": nir.Affine(weight=W2, bias=b2),
            "lif2": nir.LIF(tau=tau, r=r, v_leak=f(0), v_threshold=th, v_reset=f(0)),
            "output": nir.Output(output_type={"output": np.array([CLS])}),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "fc2"), ("fc2", "lif2"), ("lif2", "output")],
        type_check=False,
    )
    nir.write(OUT / "nir_scalars_gzip.nir", g)
    p = dict(dt=dt, tau=tau, r=r, th=th)
    layers = [(W1, b1, "LIF", p, None), (W2, b2, "LIF", p, None)]
    save("nir_scalars_gzip", f"nir {nir.version} reference (numpy float32)", dt, xs,
         [reference(layers, x) for x in xs], "0-d parameters, Input [1, 64], gzip")

    # 2. Nested subgraph, Flatten, Scale, Linear, IF; no compression.
    W1 = rng.normal(0, 0.5, (HID, IN)).astype(f)
    b1 = rng.normal(0, 0.05, HID).astype(f)
    s = rng.uniform(0.5, 1.5, HID).astype(f)
    W2 = rng.normal(0, 0.4, (CLS, HID)).astype(f)
    sc = np.full(CLS, f(0.8))
    tau1 = rng.uniform(0.005, 0.02, HID).astype(f)
    sub = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([IN])}),
            "affine": nir.Affine(weight=W1, bias=b1),
            "scale": nir.Scale(scale=s),
            "lif": nir.LIF(tau=tau1, r=np.full(HID, f(10)), v_leak=np.zeros(HID, f),
                           v_threshold=np.ones(HID, f), v_reset=np.zeros(HID, f)),
            "output": nir.Output(output_type={"output": np.array([HID])}),
        },
        edges=[("input", "affine"), ("affine", "scale"), ("scale", "lif"), ("lif", "output")],
        type_check=False,
    )
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([IN])}),
            "flat": nir.Flatten(input_type={"input": np.array([IN])}, start_dim=0, end_dim=-1),
            "block": sub,
            "lin": nir.Linear(weight=W2),
            "gain": nir.Scale(scale=sc),
            "if": nir.IF(r=np.ones(CLS, f), v_threshold=np.full(CLS, f(1.5)), v_reset=np.zeros(CLS, f)),
            "output": nir.Output(output_type={"output": np.array([CLS])}),
        },
        edges=[("input", "flat"), ("flat", "block"), ("block", "lin"), ("lin", "gain"),
               ("gain", "if"), ("if", "output")],
        type_check=False,
    )
    nir.write(OUT / "nir_subgraph_if.nir", g, compression=None)
    p1 = dict(dt=dt, tau=tau1, r=f(10), th=f(1))
    layers = [((W1 * s[:, None]).astype(f), (b1 * s).astype(f), "LIF", p1, None),
              ((W2 * sc[:, None]).astype(f), np.zeros(CLS, f), "IF", dict(r=f(1), th=f(1.5)), None)]
    save("nir_subgraph_if", f"nir {nir.version} reference (numpy float32)", dt, xs,
         [reference(layers, x) for x in xs],
         "nested NIRGraph, Flatten, Scale, Linear, IF; uncompressed (the scales are folded into the weights in the reference)")

    # 3. A recurrent LIF with per-neuron thresholds (cycle lif <-> w_rec, no recurrent bias),
    #    then a CubaLIF with per-neuron time constants, then a Threshold.
    W1 = rng.normal(0, 0.6, (HID, IN)).astype(f)
    b1 = np.zeros(HID, f)
    Wr = rng.normal(0, 0.3, (HID, HID)).astype(f)
    W2 = rng.normal(0, 1.0, (HID, HID)).astype(f)
    b2 = rng.normal(0, 0.1, HID).astype(f)
    W3 = rng.normal(0, 0.5, (CLS, HID)).astype(f)
    th1 = rng.uniform(0.8, 1.2, HID).astype(f)
    ts = rng.uniform(0.002, 0.004, HID).astype(f)
    tm = rng.uniform(0.005, 0.01, HID).astype(f)
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([IN])}),
            "fc1": nir.Affine(weight=W1, bias=b1),
            "lif1": nir.LIF(tau=np.full(HID, f(0.01)), r=np.full(HID, f(10)), v_leak=np.zeros(HID, f),
                            v_threshold=th1, v_reset=np.zeros(HID, f)),
            "w_rec": nir.Linear(weight=Wr),
            "fc2": nir.Affine(weight=W2, bias=b2),
            "cuba": nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=np.full(HID, f(1)), v_leak=np.zeros(HID, f),
                                v_threshold=np.full(HID, f(0.3)), v_reset=np.zeros(HID, f),
                                w_in=np.full(HID, f(4))),
            "fc3": nir.Linear(weight=W3),
            "thr": nir.Threshold(threshold=np.full(CLS, f(0.5))),
            "output": nir.Output(output_type={"output": np.array([CLS])}),
        },
        edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "w_rec"), ("w_rec", "lif1"),
               ("lif1", "fc2"), ("fc2", "cuba"), ("cuba", "fc3"), ("fc3", "thr"), ("thr", "output")],
        type_check=False,
    )
    nir.write(OUT / "nir_recurrent_cuba.nir", g)
    layers = [
        (W1, b1, "LIF", dict(dt=dt, tau=f(0.01), r=f(10), th=th1), Wr),
        (W2, b2, "CubaLIF", dict(dt=dt, tau_syn=ts, tau_mem=tm, r=f(1), w_in=f(4), th=f(0.3)), None),
        (W3, np.zeros(CLS, f), "Threshold", dict(th=f(0.5)), None),
    ]
    save("nir_recurrent_cuba", f"nir {nir.version} reference (numpy float32)", dt, xs,
         [reference(layers, x) for x in xs],
         "recurrent LIF cycle with per-neuron thresholds, CubaLIF with per-neuron taus, Threshold")


def nir_cuba_cycle_fixture():
    """A recurrent CubaLIF: CubaLIF -> Linear(W_rec) -> back into the same CubaLIF (NIR reference)."""
    rng = np.random.default_rng(11)
    f = np.float32
    xs = inputs(8)
    dt = 1e-3
    W1 = rng.normal(0, 1.0, (HID, IN)).astype(f)
    b1 = rng.normal(0, 0.05, HID).astype(f)
    Wr = rng.normal(0, 0.8, (HID, HID)).astype(f)
    W2 = rng.normal(0, 1.0, (CLS, HID)).astype(f)
    ts = rng.uniform(0.002, 0.006, HID).astype(f)
    tm = rng.uniform(0.005, 0.02, HID).astype(f)
    ts2, tm2 = np.full(CLS, f(0.004)), np.full(CLS, f(0.01))
    g = nir.NIRGraph(
        nodes={
            "input": nir.Input(input_type={"input": np.array([IN])}),
            "fc1": nir.Affine(weight=W1, bias=b1),
            "cuba1": nir.CubaLIF(tau_syn=ts, tau_mem=tm, r=np.full(HID, f(2)), v_leak=np.zeros(HID, f),
                                 v_threshold=np.full(HID, f(0.5)), v_reset=np.zeros(HID, f),
                                 w_in=np.full(HID, f(3))),
            "w_rec": nir.Linear(weight=Wr),
            "fc2": nir.Linear(weight=W2),
            "cuba2": nir.CubaLIF(tau_syn=ts2, tau_mem=tm2, r=np.full(CLS, f(2)), v_leak=np.zeros(CLS, f),
                                 v_threshold=np.full(CLS, f(0.5)), v_reset=np.zeros(CLS, f),
                                 w_in=np.full(CLS, f(3))),
            "output": nir.Output(output_type={"output": np.array([CLS])}),
        },
        edges=[("input", "fc1"), ("fc1", "cuba1"), ("cuba1", "w_rec"), ("w_rec", "cuba1"),
               ("cuba1", "fc2"), ("fc2", "cuba2"), ("cuba2", "output")],
        type_check=False,
    )
    nir.write(OUT / "nir_cuba_cycle.nir", g)
    layers = [
        (W1, b1, "CubaLIF", dict(dt=dt, tau_syn=ts, tau_mem=tm, r=f(2), w_in=f(3), th=f(0.5)), Wr),
        (W2, np.zeros(CLS, f), "CubaLIF", dict(dt=dt, tau_syn=ts2, tau_mem=tm2, r=f(2), w_in=f(3), th=f(0.5)), None),
    ]
    save("nir_cuba_cycle", f"nir {nir.version} reference (numpy float32)", dt, xs,
         [reference(layers, x) for x in xs],
         "a recurrent CubaLIF (cycle cuba1 -> Linear -> cuba1, per-neuron taus), then a CubaLIF")


def nir_readout_fixtures():
    """Non-spiking readouts from the `nir` package itself: `I` (integrator) and `CubaLI`
    (current-based leaky integrator), each as the last layer after a spiking LIF, with the NIR
    reference's readout membrane per step (Euler, float32)."""
    f = np.float32
    dt = 1e-3
    for name, seed in (("nir_i_readout", 21), ("nir_cubali_readout", 22)):
        rng = np.random.default_rng(seed)
        xs = inputs(seed)
        W1 = rng.normal(0, 0.6, (HID, IN)).astype(f)
        b1 = rng.normal(0, 0.1, HID).astype(f)
        W2 = rng.normal(0, 0.5, (CLS, HID)).astype(f)
        b2 = rng.normal(0, 0.05, CLS).astype(f)
        tau, r, th = f(0.01), f(10.0), f(1.0)
        if name == "nir_i_readout":
            r_out = rng.uniform(5.0, 15.0, CLS).astype(f)
            readout = nir.I(r=r_out)
            note = "Affine-LIF-Affine-I: an integrator readout (v += dt r I), per-neuron r"
        else:
            ts = rng.uniform(0.002, 0.005, CLS).astype(f)
            tm = rng.uniform(0.005, 0.02, CLS).astype(f)
            readout = nir.CubaLI(tau_syn=ts, tau_mem=tm, r=np.full(CLS, f(2)),
                                 v_leak=np.zeros(CLS, f), w_in=np.full(CLS, f(3)))
            note = "Affine-LIF-Affine-CubaLI: a current-based leaky-integrator readout, per-neuron taus"
        g = nir.NIRGraph(
            nodes={
                "input": nir.Input(input_type={"input": np.array([IN])}),
                "fc1": nir.Affine(weight=W1, bias=b1),
                "lif": nir.LIF(tau=np.full(HID, tau), r=np.full(HID, r), v_leak=np.zeros(HID, f),
                               v_threshold=np.full(HID, th), v_reset=np.zeros(HID, f)),
                "fc2": nir.Affine(weight=W2, bias=b2),
                "readout": readout,
                "output": nir.Output(output_type={"output": np.array([CLS])}),
            },
            edges=[("input", "fc1"), ("fc1", "lif"), ("lif", "fc2"), ("fc2", "readout"),
                   ("readout", "output")],
            type_check=False,
        )
        nir.write(OUT / f"{name}.nir", g)
        vs = []
        for x in xs:
            h = reference([(W1, b1, "LIF", dict(dt=dt, tau=tau, r=r, th=th), None)], x)
            v = np.zeros(CLS, f)
            i = np.zeros(CLS, f)
            out = []
            for t in range(T):
                I = W2 @ h[t] + b2
                if name == "nir_i_readout":
                    v = v + f(dt) * r_out * I
                else:
                    i = i + f(dt) / ts * (-i + f(3) * I)
                    v = v + f(dt) / tm * (-v + f(2) * i)
                out.append(v.astype(np.float64))
            vs.append(np.stack(out))
        meta = {
            "tool": f"nir {nir.version} reference (numpy float32)",
            "dt": dt,
            "steps": T,
            "note": note + "; readout = the reference's readout membrane per step",
            "samples": [
                {"input": x.astype(int).tolist(), "readout": v.tolist()} for x, v in zip(xs, vs)
            ],
        }
        (OUT / f"{name}.json").write_text(json.dumps(meta, separators=(",", ":")) + "\n")
        print(f"{name}: readout max per sample", [float(v.max()) for v in vs])


if __name__ == "__main__":
    import sys

    # `make_fixtures.py rockpool` makes only the named groups (the other files stay as they are).
    groups = {"nir": nir_fixtures, "snntorch": snntorch_fixtures, "norse": norse_fixtures,
              "sinabs": sinabs_fixtures, "rockpool": rockpool_fixtures,
              "nir_cuba_cycle": nir_cuba_cycle_fixture, "norse_li": norse_li_fixture,
              "nir_readouts": nir_readout_fixtures}
    OUT.mkdir(parents=True, exist_ok=True)
    for name in sys.argv[1:] or list(groups):
        groups[name]()
