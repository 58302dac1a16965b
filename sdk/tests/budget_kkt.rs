//! Rate-budget enforcement converges to the analytic KKT points of small constrained problems.

use candle_core::{Device, Tensor, Var};
use snn_sdk::budget::{BudgetController, BudgetMethod, LayerBudget, Multiplier};

/// Projected dual ascent on a 2-D quadratic with one linear constraint.
///
/// minimise f(x) = (x1 - 2)^2 + (x2 - 1)^2  subject to  g(x) = x1 + x2 - 1 <= 0.
/// The unconstrained minimum (2, 1) violates g, so the constraint is active at the solution:
/// stationarity 2(x - c) + lambda (1, 1) = 0 and x1 + x2 = 1 give
/// x* = c - (c1 + c2 - 1)/2 (1, 1) = (1, 0), lambda* = c1 + c2 - 1 = 2.
#[test]
fn dual_ascent_finds_the_kkt_point_of_a_quadratic() {
    let c = [2.0, 1.0];
    let mut x = [0.0f64, 0.0];
    let mut lambda = Multiplier::new(0.1);
    let alpha = 0.1;
    for _ in 0..5000 {
        let g = x[0] + x[1] - 1.0;
        for k in 0..2 {
            x[k] -= alpha * (2.0 * (x[k] - c[k]) + lambda.value);
        }
        lambda.update(g);
    }
    assert!((x[0] - 1.0).abs() < 1e-6 && x[1].abs() < 1e-6, "x = {x:?}");
    assert!(
        (lambda.value - 2.0).abs() < 1e-6,
        "lambda = {}",
        lambda.value
    );

    // An inactive constraint (x1 + x2 <= 10) keeps the unconstrained optimum and lambda = 0.
    let mut x = [0.0f64, 0.0];
    let mut lambda = Multiplier::new(0.1);
    for _ in 0..5000 {
        let g = x[0] + x[1] - 10.0;
        for k in 0..2 {
            x[k] -= alpha * (2.0 * (x[k] - c[k]) + lambda.value);
        }
        lambda.update(g);
    }
    assert!((x[0] - 2.0).abs() < 1e-6 && (x[1] - 1.0).abs() < 1e-6);
    assert_eq!(lambda.value, 0.0);
}

/// Neurons whose "spike" output is sigmoid(theta), one per entry of `init`, recorded as [1, 1, N].
struct Toy {
    theta: Var,
}

impl Toy {
    fn new(init: &[f64]) -> Self {
        Self {
            theta: Var::from_slice(init, init.len(), &Device::Cpu).unwrap(),
        }
    }
    fn spikes(&self) -> Tensor {
        let s = (self.theta.as_tensor().neg().unwrap().exp().unwrap() + 1.0)
            .unwrap()
            .recip()
            .unwrap();
        s.reshape((1, 1, s.dim(0).unwrap())).unwrap()
    }
    fn rates(&self) -> Vec<f64> {
        self.spikes().flatten_all().unwrap().to_vec1().unwrap()
    }
    /// Task loss sum_i (r_i - goal_i)^2 plus the budget terms; plain gradient descent on theta.
    fn train(&mut self, ctl: &mut BudgetController, goal: &[f64], steps: usize, lr: f64) {
        let goal = Tensor::from_slice(goal, goal.len(), &Device::Cpu).unwrap();
        for _ in 0..steps {
            let s = self.spikes();
            let task = (s.flatten_all().unwrap() - &goal)
                .unwrap()
                .sqr()
                .unwrap()
                .sum_all()
                .unwrap();
            let (term, rates) = ctl.loss(std::slice::from_ref(&s)).unwrap();
            let loss = (task + term.expect("budget configured")).unwrap();
            let g = loss.backward().unwrap();
            let d = g.get(self.theta.as_tensor()).unwrap();
            self.theta
                .set(&(self.theta.as_tensor() - (d * lr).unwrap()).unwrap())
                .unwrap();
            ctl.update(&rates).unwrap();
        }
    }
}

fn cfg(max_rate: f64, min_rate: f64, method: BudgetMethod, per_neuron: bool) -> LayerBudget {
    LayerBudget {
        layer: 0,
        max_rate,
        min_rate,
        method,
        weight: (method == BudgetMethod::Penalty).then_some(10.0),
        multiplier_lr: (method == BudgetMethod::Lagrange).then_some(0.5),
        per_neuron,
    }
}

/// Task pulls the rate to 0.5, the cap is 0.1. KKT in r: 2 (r - 0.5) + lambda = 0 at r = 0.1,
/// so lambda* = 0.8 (the sigmoid's positive slope cancels from the stationarity condition).
#[test]
fn lagrange_layer_cap_reaches_kkt() {
    let mut toy = Toy::new(&[0.0]);
    let mut ctl =
        BudgetController::new(&[cfg(0.1, 0.0, BudgetMethod::Lagrange, false)], &[1]).unwrap();
    toy.train(&mut ctl, &[0.5], 20000, 2.0);
    let r = toy.rates()[0];
    let lam = ctl.multipliers(0).0[0];
    assert!((r - 0.1).abs() < 1e-4, "rate {r}");
    assert!((lam - 0.8).abs() < 1e-3, "multiplier {lam}");
}

/// Task pulls the rate to 0, the floor is 0.2: lambda_min* = 2 * 0.2 = 0.4, cap multiplier 0.
#[test]
fn lagrange_floor_reaches_kkt() {
    let mut toy = Toy::new(&[0.0]);
    let mut ctl =
        BudgetController::new(&[cfg(0.9, 0.2, BudgetMethod::Lagrange, false)], &[1]).unwrap();
    toy.train(&mut ctl, &[0.0], 20000, 2.0);
    let r = toy.rates()[0];
    let (upper, lower) = ctl.multipliers(0);
    assert!((r - 0.2).abs() < 1e-4, "rate {r}");
    assert!(
        (lower[0] - 0.4).abs() < 1e-3,
        "floor multiplier {}",
        lower[0]
    );
    assert_eq!(upper[0], 0.0);
}

/// Penalty w relu(r - 0.1)^2 with w = 10: minimum of (r - 0.5)^2 + 10 (r - 0.1)^2 is
/// r = (0.5 + 10 * 0.1) / 11 = 0.13636…, above the cap: a penalty only approximates a budget.
#[test]
fn penalty_settles_at_its_analytic_compromise() {
    let mut toy = Toy::new(&[0.0]);
    let mut ctl =
        BudgetController::new(&[cfg(0.1, 0.0, BudgetMethod::Penalty, false)], &[1]).unwrap();
    toy.train(&mut ctl, &[0.5], 5000, 2.0);
    let r = toy.rates()[0];
    assert!((r - 1.5 / 11.0).abs() < 1e-6, "rate {r}");
    assert!(ctl.multipliers(0).0.is_empty());
}

/// Two neurons pulled to 0.3 and 0.05 under a cap of 0.15.
/// Layer budget (mean <= 0.15): minimise (r1-0.3)^2 + (r2-0.05)^2 s.t. (r1+r2)/2 <= 0.15;
///   stationarity 2 (r_i - goal_i) + lambda/2 = 0 gives r1 - r2 = 0.25, r1 + r2 = 0.3
///   -> r = (0.275, 0.025), lambda = 0.1: one neuron stays far above the cap.
/// Per-neuron budget (each r_i <= 0.15, the loss averages the terms over the 2 neurons):
///   -> r = (0.15, 0.05), lambda_1 = 4 * (0.3 - 0.15) = 0.6, lambda_2 = 0.
#[test]
fn per_neuron_caps_every_neuron_layer_cap_only_the_mean() {
    let mut toy = Toy::new(&[0.0, 0.0]);
    let mut ctl =
        BudgetController::new(&[cfg(0.15, 0.0, BudgetMethod::Lagrange, false)], &[2]).unwrap();
    toy.train(&mut ctl, &[0.3, 0.05], 40000, 2.0);
    let r = toy.rates();
    assert!(
        (r[0] - 0.275).abs() < 1e-4 && (r[1] - 0.025).abs() < 1e-4,
        "layer budget rates {r:?}"
    );
    let lam = ctl.multipliers(0).0[0];
    assert!((lam - 0.1).abs() < 1e-3, "multiplier {lam}");

    let mut toy = Toy::new(&[0.0, 0.0]);
    let mut ctl =
        BudgetController::new(&[cfg(0.15, 0.0, BudgetMethod::Lagrange, true)], &[2]).unwrap();
    toy.train(&mut ctl, &[0.3, 0.05], 40000, 2.0);
    let r = toy.rates();
    assert!(
        (r[0] - 0.15).abs() < 1e-4 && (r[1] - 0.05).abs() < 1e-4,
        "per-neuron rates {r:?}"
    );
    let (lam, _) = ctl.multipliers(0);
    assert!(
        (lam[0] - 0.6).abs() < 1e-3 && lam[1] == 0.0,
        "multipliers {lam:?}"
    );
}
