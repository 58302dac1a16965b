//! Cost of one inference on a microcontroller core, predicted before flashing (`snn simulate
//! --target CORE [--board NAME]`).
//!
//! `instructions = a × synaptic_events + b × neuron_updates + c`, where `neuron_updates =
//! neurons × time_steps` and the per-core `(a, b, c)` were fitted by `cargo xtask bench-fw` on
//! each emulated core, instruction-exact under QEMU `-icount shift=0` (BENCHMARKS.md, "Every
//! core"; 2026-11-30 on `plan`: a per-model step plan decided at bind time, the rate encoder's
//! octets and the kernel's row check in assembly on the DSP cores, one-frame rate input
//! encoded without the per-step checks, after the DSP kernel of
//! issue #16 item 3; refitted 2026-12-01 on `plan2`, where each request binds the loaded model
//! by slicing instead of parsing it; firmware release build, seeded random 64 → H → 10 models). On the
//! zoo digits model the prediction is within 10 % of the measured count on every core (the test
//! below).
//!
//! A series model's inference is one whole series streamed (`StreamBegin`, then raw samples
//! encoded on the board): `instructions = a' × synaptic_events + b' × neuron_updates + c'` with
//! the stream fit of [`Core::stream_coefficients`] (least squares over every test series of
//! the zoo JapaneseVowels and BasicMotions models), within 10 % of the measured mean on every
//! core that runs them (the second test).
//!
//! With a board, `µs = instructions / clock_MHz`: one instruction per cycle, so a lower bound
//! (flash wait states and multi-cycle instructions only add). Energy per inference
//! `µJ = µs × I_run (mA) × V_supply (V) / 1000`, with the typical active (run) current of the
//! board's chip from its datasheet at that clock (each board cites its source below): the chip
//! only, no LEDs, debug probe or regulators of the development board, so again a lower bound.
use thiserror::Error;

/// Why a core or board name was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum CostError {
    /// Not a core `bench-fw` measured.
    #[error("unknown target `{0}` (targets: {list})", list = Core::names().join(", "))]
    UnknownCore(String),
    /// Not a board the firmware supports.
    #[error("unknown board `{0}` (boards: {list})", list = BOARDS.iter().map(|b| b.name).collect::<Vec<_>>().join(", "))]
    UnknownBoard(String),
}

/// A microcontroller core the firmware runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Core {
    /// Arm Cortex-M0 / M0+ (thumbv6m).
    CortexM0,
    /// Arm Cortex-M3 (thumbv7m).
    CortexM3,
    /// Arm Cortex-M4F (thumbv7em, DSP).
    CortexM4,
    /// Arm Cortex-M7 (thumbv7em, DSP).
    CortexM7,
    /// Arm Cortex-M33 (thumbv8m.main with DSP).
    CortexM33,
    /// RISC-V RV32IMAC / RV32IMC.
    Rv32,
}

/// A fitted cost model: `instructions = per_event × events + per_update × updates + fixed`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Coefficients {
    /// Instructions per synaptic event.
    pub per_event: f64,
    /// Instructions per neuron update (one neuron, one time step).
    pub per_update: f64,
    /// Instructions per inference that depend on neither.
    pub fixed: f64,
}

impl Core {
    /// Every core, in `bench-fw` order.
    pub const ALL: [Core; 6] = [
        Core::CortexM0,
        Core::CortexM3,
        Core::CortexM4,
        Core::CortexM7,
        Core::CortexM33,
        Core::Rv32,
    ];

    /// The name `--target` takes.
    pub fn name(self) -> &'static str {
        match self {
            Core::CortexM0 => "cortex-m0",
            Core::CortexM3 => "cortex-m3",
            Core::CortexM4 => "cortex-m4",
            Core::CortexM7 => "cortex-m7",
            Core::CortexM33 => "cortex-m33",
            Core::Rv32 => "rv32",
        }
    }

    fn names() -> Vec<&'static str> {
        Self::ALL.iter().map(|c| c.name()).collect()
    }

    /// Parses a `--target` name.
    pub fn parse(name: &str) -> Result<Self, CostError> {
        Self::ALL
            .into_iter()
            .find(|c| c.name() == name)
            .ok_or_else(|| CostError::UnknownCore(name.to_string()))
    }

    /// The coefficients `cargo xtask bench-fw --json` fitted on this core's emulated board.
    pub fn coefficients(self) -> Coefficients {
        let (per_event, per_update, fixed) = match self {
            Core::CortexM0 => (4.235, 33.05, 44_998.0),
            Core::CortexM3 => (2.894, 17.68, 31_559.0),
            Core::CortexM4 => (1.841, 10.80, 32_342.0),
            Core::CortexM7 => (1.841, 10.80, 32_342.0),
            Core::CortexM33 => (1.839, 11.94, 31_640.0),
            Core::Rv32 => (3.641, 18.54, 38_922.0),
        };
        Coefficients {
            per_event,
            per_update,
            fixed,
        }
    }

    /// Predicted instructions per inference for `events` synaptic events and `updates` neuron
    /// updates per inference.
    pub fn instructions(self, events: f64, updates: f64) -> f64 {
        let k = self.coefficients();
        k.per_event * events + k.per_update * updates + k.fixed
    }

    /// The coefficients of one whole series streamed on this core (a series model's inference:
    /// `StreamBegin`, then its steps as raw samples encoded on the board): `cargo xtask bench-fw
    /// --json` (`stream_fit`) fits them by least squares over every test series of the zoo
    /// JapaneseVowels and BasicMotions models. They differ from [`Core::coefficients`] because
    /// the stream path differs from `Infer`'s: direct input is one multiply per channel and
    /// neuron, recurrent rows take the general fan-out and update, and every step encodes its
    /// raw samples, keeps the running counts and runs the decision rules. The Cortex-M0's were
    /// measured on the micro:bit's `sram-256k` bench build (neither series model fits the
    /// emulated micro:bit's 12 KiB of model RAM; same code, so the same M0 instructions).
    pub fn stream_coefficients(self) -> Coefficients {
        let (per_event, per_update, fixed) = match self {
            Core::CortexM0 => STREAM_FIT[0],
            Core::CortexM3 => STREAM_FIT[1],
            Core::CortexM4 => STREAM_FIT[2],
            Core::CortexM7 => STREAM_FIT[3],
            Core::CortexM33 => STREAM_FIT[4],
            Core::Rv32 => STREAM_FIT[5],
        };
        Coefficients {
            per_event,
            per_update,
            fixed,
        }
    }

    /// Predicted instructions of one whole series streamed step by step (a series model's
    /// inference) with `events` synaptic events and `updates = neurons x steps` neuron updates:
    /// `per_event x events + per_update x updates + fixed` of [`Core::stream_coefficients`].
    pub fn series_instructions(self, events: f64, updates: f64) -> f64 {
        let k = self.stream_coefficients();
        k.per_event * events + k.per_update * updates + k.fixed
    }
}

/// [`Core::stream_coefficients`] of M0, M3, M4, M7, M33, RV32: `(per_event, per_update, fixed)`
/// from `cargo xtask bench-fw --json` (`stream_fit`; the M0's on the micro:bit's `sram-256k`
/// bench build).
const STREAM_FIT: [(f64, f64, f64); 6] = [
    (7.5322, 132.62, 159_413.0),
    (3.0816, 92.66, 143_306.0),
    (2.9236, 60.07, 75_382.0),
    (2.9236, 60.08, 75_364.0),
    (3.0852, 53.73, 88_210.0),
    (5.7729, 105.95, 138_269.0),
];

/// A real board the firmware supports: its core and the clock the firmware runs it at.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Board {
    /// The name `--board` (and `cargo xtask flash --board`) takes.
    pub name: &'static str,
    /// Its core.
    pub core: Core,
    /// Core clock the firmware configures, MHz.
    pub clock_mhz: u32,
    /// Typical run current of the chip at that clock, code running from flash, mA.
    pub run_ma: f64,
    /// Supply voltage that current is given at, V.
    pub supply_v: f64,
    /// Where `run_ma` and `supply_v` come from (datasheet, table, conditions).
    pub source: &'static str,
}

/// The real boards of `firmware/` with the core clock each board module sets up, and their
/// chips' datasheet run currents.
pub const BOARDS: [Board; 5] = [
    Board {
        name: "nucleo-f446re",
        core: Core::CortexM4,
        clock_mhz: 168,
        // Typical, all peripherals off; transcribed without the PDF at hand when this was
        // written: check it against the cited table before quoting it.
        run_ma: 36.0,
        supply_v: 3.3,
        source: "STM32F446xC/E datasheet DS10693, table 'Typical and maximum current \
                 consumption in Run mode, code with data processing running from Flash memory \
                 (ART accelerator enabled except prefetch)', 168 MHz, all peripherals \
                 disabled, typ",
    },
    Board {
        name: "nrf52840-dk",
        core: Core::CortexM4,
        clock_mhz: 64,
        run_ma: 3.3,
        supply_v: 3.0,
        source: "nRF52840 Product Specification v1.7, section 'CPU performance', I_CPU: CPU \
                 running CoreMark at 64 MHz from flash, clock HFXO, regulator DC/DC, 3 V",
    },
    Board {
        name: "rp-pico",
        core: Core::CortexM0,
        clock_mhz: 125,
        // An estimate, not a datasheet figure: the RP2040 datasheet's power table (section 5.4,
        // "Power Consumption") gives use cases only (the 'Popcorn' media demo at 48 MHz, BOOTSEL
        // with and without USB traffic, DORMANT, SLEEP), no current at a given core clock.
        run_ma: 25.0,
        supply_v: 3.3,
        source: "estimate: RP2040 Datasheet section 5.4 'Power Consumption' lists use cases \
                 only (Popcorn at 48 MHz, BOOTSEL, DORMANT, SLEEP), no run current at 125 MHz; \
                 25 mA at 3.3 V is an estimate for one busy core at 125 MHz, to be replaced by \
                 a measurement",
    },
    Board {
        name: "esp32c3",
        core: Core::Rv32,
        clock_mhz: 160,
        run_ma: 20.0,
        supply_v: 3.3,
        source: "Espressif ESP-AT guide 'Sleep AT Examples' (ESP32-C3): average current in \
                 Modem-sleep at a CPU clock of 160 MHz, radio off between beacons, about \
                 20 mA; ESP32-C3 Series Datasheet, 'Current consumption in Modem-sleep mode'",
    },
    Board {
        name: "microbit",
        core: Core::CortexM0,
        clock_mhz: 16,
        run_ma: 4.4,
        supply_v: 3.0,
        source: "nRF51822 Product Specification v3.4, section 'CPU', I_CPU,FLASH: CPU running \
                 from flash at 16 MHz, 3 V (BBC micro:bit v1)",
    },
];

impl Board {
    /// Finds a board by name.
    pub fn parse(name: &str) -> Result<Self, CostError> {
        BOARDS
            .into_iter()
            .find(|b| b.name == name)
            .ok_or_else(|| CostError::UnknownBoard(name.to_string()))
    }

    /// Lower bound of the time of `instructions` on this board, µs (one instruction per cycle).
    pub fn micros(&self, instructions: f64) -> f64 {
        instructions / f64::from(self.clock_mhz)
    }

    /// Energy of `instructions` on this board's chip, µJ: `micros × run_ma × supply_v / 1000`.
    pub fn micro_joules(&self, instructions: f64) -> f64 {
        self.micros(instructions) * self.run_ma * self.supply_v / 1000.0
    }

    /// The report line of `instructions` (taking `us` µs) on this board: time, energy and the
    /// datasheet figures behind them.
    pub fn cost_line(&self, instructions: f64, us: f64) -> String {
        format!(
            "{}: at least {us:.0} µs and {:.2} µJ per inference at {} MHz (one instruction per \
             cycle; {} mA at {} V, {})",
            self.name,
            self.micro_joules(instructions),
            self.clock_mhz,
            self.run_ma,
            self.supply_v,
            self.source
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse_and_unknown_ones_are_listed() {
        for c in Core::ALL {
            assert_eq!(Core::parse(c.name()), Ok(c));
        }
        let e = Core::parse("cortex-a53").unwrap_err().to_string();
        assert!(e.contains("cortex-a53") && e.contains("cortex-m33") && e.contains("rv32"));
        assert_eq!(Board::parse("rp-pico").unwrap().core, Core::CortexM0);
        let e = Board::parse("arduino").unwrap_err().to_string();
        assert!(e.contains("arduino") && e.contains("esp32c3"), "{e}");
        // 1.68 M instructions at 168 MHz take at least 10 ms.
        let b = Board::parse("nucleo-f446re").unwrap();
        assert!((b.micros(1.68e6) - 10_000.0).abs() < 1e-6);
    }

    #[test]
    fn energy_is_time_times_power_and_every_board_cites_its_source() {
        // 64 k instructions on the nRF52840 at 64 MHz: 1000 µs at 3.3 mA and 3 V = 9.9 µJ.
        let b = Board::parse("nrf52840-dk").unwrap();
        assert!((b.micro_joules(64_000.0) - 9.9).abs() < 1e-9);
        for b in BOARDS {
            assert!(b.run_ma > 0.0 && b.supply_v > 0.0, "{}", b.name);
            assert!(b.source.len() > 40, "{}: no datasheet source", b.name);
            // Under a watt, over a milliwatt: a plausible MCU.
            let mw = b.run_ma * b.supply_v;
            assert!((1.0..1000.0).contains(&mw), "{}: {mw} mW", b.name);
        }
        assert_eq!(Board::parse("microbit").unwrap().core, Core::CortexM0);
    }

    /// The zoo digits model on the host engine, last 50 digits rows (what `bench-fw` runs): the
    /// prediction from the host's event count is within 10 % of what each emulated core measured
    /// (`cargo xtask bench-fw`, zoo digits instructions per inference, BENCHMARKS.md).
    #[test]
    fn predicts_the_zoo_model_within_ten_percent_on_every_core() {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../models/zoo/digits.snn");
        let bytes = std::fs::read(&path).unwrap();
        let model = snn_models::decode(&bytes).unwrap();
        let data = crate::data::Digits::load().unwrap();
        let rows = crate::deploy::simulate::all_rows(&data);
        let samples = crate::deploy::export::samples_of(&rows);
        let last = &samples[samples.len() - 50..];
        let report = crate::deploy::simulate::run_engine(&model, last).unwrap();
        let neurons: f64 = model.layers.iter().map(|l| f64::from(l.neurons)).sum();
        let updates = neurons * f64::from(model.header.time_steps);
        let measured = [
            (Core::CortexM0, 452_992.0),
            (Core::CortexM3, 290_957.0),
            (Core::CortexM4, 198_974.0),
            (Core::CortexM7, 198_974.0),
            (Core::CortexM33, 206_419.0),
            (Core::Rv32, 383_908.0),
        ];
        for (core, instr) in measured {
            let p = core.instructions(report.synaptic_events_per_inference, updates);
            let err = (p - instr).abs() / instr;
            assert!(
                err < 0.10,
                "{}: predicted {p:.0}, measured {instr}",
                core.name()
            );
        }
    }

    /// Every zoo series model on the host engine, every test series (what `bench-fw` streams):
    /// the prediction of one whole series from the host's events and steps is within 10 % of
    /// what each emulated core measured (`cargo xtask bench-fw --json`, `streams[]`
    /// `instr_per_inference`, BENCHMARKS.md "Cost before flashing").
    #[test]
    fn predicts_every_zoo_series_model_within_ten_percent_on_every_core() {
        use crate::data::series::source::{SeriesFormat, SeriesSource};
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        for (model, test, measured) in SERIES_MEASURED {
            let bytes = std::fs::read(root.join("../models/zoo").join(model)).unwrap();
            let path = root.join("data").join(test);
            let set = SeriesSource::new(SeriesFormat::guess(&path), path.clone())
                .read(&path)
                .unwrap();
            let r = crate::deploy::series::run_engine(&bytes, &set).unwrap();
            let m = snn_models::decode(&bytes).unwrap();
            let neurons: f64 = m.layers.iter().map(|l| f64::from(l.neurons)).sum();
            let updates = neurons * r.steps_per_inference;
            for (core, instr) in Core::ALL.into_iter().zip(measured) {
                let p = core.series_instructions(r.synaptic_events_per_inference, updates);
                let err = (p - instr).abs() / instr;
                assert!(
                    err < 0.10,
                    "{model} on {}: predicted {p:.0}, measured {instr}",
                    core.name()
                );
            }
        }
    }

    /// Measured instructions per inference (one whole test series streamed, mean) of each zoo
    /// series model on M0 (the micro:bit's `sram-256k` bench build: neither fits its 12 KiB),
    /// M3, M4, M7, M33, RV32: `cargo xtask bench-fw --json --samples 50`,
    /// `streams[].instr_per_inference`.
    const SERIES_MEASURED: [(&str, &str, [f64; 6]); 3] = [
        (
            "japanese_vowels.snn",
            "JapaneseVowels_TEST.ts.gz",
            [
                2_072_151.0,
                1_082_698.0,
                856_234.0,
                856_235.0,
                873_481.0,
                1_626_213.0,
            ],
        ),
        (
            "basic_motions.snn",
            "BasicMotions_TEST.ts.gz",
            [
                3_524_573.0,
                2_009_822.0,
                1_508_797.0,
                1_508_869.0,
                1_474_242.0,
                2_792_702.0,
            ],
        ),
        (
            "basic_motions_readout.snn",
            "BasicMotions_TEST.ts.gz",
            [
                2_048_676.0,
                1_190_472.0,
                821_731.0,
                821_748.0,
                803_589.0,
                1_555_867.0,
            ],
        ),
    ];
}
