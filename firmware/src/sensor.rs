//! Feature `imu` (Nucleo-F446RE with ST's X-NUCLEO-IKS01A3 shield): instead of serving the host
//! link, the board classifies what its LSM6DSO feels, with the model built into flash
//! (`cargo xtask build-fw --board nucleo-f446re --imu --model models/zoo/basic_motions.snn`).
//!
//! Every 1/`STEP_HZ` s (paced by the cycle counter) it reads one accelerometer + gyroscope frame
//! over I2C1, runs one engine step and the decision rules (`snn_hal::sensor_stream`, the code
//! the host test `hal/tests/sensor_stream.rs` drives with a scripted bus), writes the step's
//! decisions as one text line on the ST-LINK virtual COM port (`step=37 out=2 window=1
//! first=1@21`, plus ` final=c` at the end of each `time_steps` segment) and blinks the window
//! decision on LD2 (`snn_hal::decision_led`). A sensor that is missing or foreign is reported on
//! the link and retried every second; nothing here panics.
use core::fmt::Write;

use heapless::String;
use snn_hal::decision_led::BlinkCode;
use snn_hal::imu::lsm6dso::{Config, Lsm6dso, ADDRESS_SA0_HIGH};
use snn_hal::sensor_stream::{DecisionBuffers, Rules, SensorStream, Units};
use snn_hal::{CycleCounter, Link};
use snn_models::{Engine, Requirements};
use static_cell::ConstStaticCell;

use crate::board;

/// Steps per second (BasicMotions was recorded at 10 Hz).
const STEP_HZ: u64 = 10;
/// The model's raw unit `2^EXP` (m/s² and rad/s up to ±64).
const EXP: i8 = -9;
/// Decision rules: window of 10 steps (1 s), first class to 5 output spikes.
const RULES: Rules = Rules {
    window: 10,
    threshold: 5,
};
/// Most classes the decision buffers hold.
const MAX_CLASSES: usize = 64;

static FINAL: ConstStaticCell<[u32; MAX_CLASSES]> = ConstStaticCell::new([0; MAX_CLASSES]);
static RING: ConstStaticCell<[u16; 10 * MAX_CLASSES]> = ConstStaticCell::new([0; 10 * MAX_CLASSES]);
static SUMS: ConstStaticCell<[u32; MAX_CLASSES]> = ConstStaticCell::new([0; MAX_CLASSES]);
static FIRST: ConstStaticCell<[u32; MAX_CLASSES]> = ConstStaticCell::new([0; MAX_CLASSES]);

/// The engine's state buffers (the firmware's statics).
pub struct Buffers {
    /// Membranes (and delta-encoder references).
    pub membrane: &'static mut [i32],
    /// Per-layer currents.
    pub current: &'static mut [i32],
    /// Spike lists.
    pub spikes: &'static mut [u16],
    /// Output counts.
    pub out_counts: &'static mut [u16],
}

/// Writes one line on the link (errors ignored: nobody may be listening).
fn say(link: &mut impl Link, line: &str) {
    let _ = link.write_all(line.as_bytes());
}

/// Reports `what` on the link and the log forever (a setup error with no way forward).
fn stop(link: &mut impl Link, what: &str) -> ! {
    defmt::error!("imu: {=str}", what);
    let mut line: String<96> = String::new();
    let _ = writeln!(line, "error: {what}");
    say(link, &line);
    board::halt()
}

/// Runs the sensor loop forever on the built-in `model` bytes.
pub fn run(b: board::Board, model: &'static [u8], bufs: Buffers) -> ! {
    let board::Board {
        mut link,
        mut counter,
        spikes,
        i2c,
        ..
    } = b;
    let Ok(model) = snn_models::decode(model) else {
        stop(
            &mut link,
            "no valid built-in model (build with --model FILE)",
        )
    };
    let r = Requirements::of(&model);
    let (Some(m), Some(c), Some(s), Some(o)) = (
        bufs.membrane.get_mut(..r.membrane),
        bufs.current.get_mut(..r.current),
        bufs.spikes.get_mut(..r.spikes),
        bufs.out_counts.get_mut(..r.out_counts),
    ) else {
        stop(&mut link, "the model does not fit the engine buffers")
    };
    let Ok(engine) = Engine::new(&model, m, c, s, o) else {
        stop(&mut link, "the engine refused the model")
    };
    let config = Config::ACTIVITY;
    let Some(units) = Units::from_physical(&config.si_per_lsb(), EXP) else {
        stop(&mut link, "sensor units out of range")
    };
    let buffers = DecisionBuffers {
        final_counts: FINAL.take(),
        window_ring: RING.take(),
        window_sums: SUMS.take(),
        first_counts: FIRST.take(),
    };
    let mut stream = match SensorStream::new(engine, &model, units, RULES, buffers) {
        Ok(s) => s,
        Err(e) => {
            defmt::error!("imu: {}", defmt::Debug2Format(&e));
            stop(
                &mut link,
                "the model does not take the IMU's 6 channels or has too many classes",
            )
        }
    };
    let mut led = BlinkCode::new(spikes.0);
    let mut imu = Lsm6dso::new(i2c, ADDRESS_SA0_HIGH);
    let period = board::CORE_HZ / STEP_HZ;
    let mut next = counter.now();
    let mut ready = false;
    let mut line: String<96> = String::new();
    loop {
        while counter.now() < next {}
        next += period;
        if !ready {
            // Retried every second until the shield answers.
            if !(next / period).is_multiple_of(STEP_HZ) {
                continue;
            }
            match imu.init(&config) {
                Ok(()) => {
                    ready = true;
                    stream.restart();
                    say(&mut link, "imu: LSM6DSO ready (12.5 Hz, 8 g, 2000 dps)\n");
                }
                Err(e) => {
                    line.clear();
                    let _ = writeln!(line, "imu: {e}");
                    say(&mut link, &line);
                    led.show(None);
                }
            }
            continue;
        }
        match stream.step(&mut imu) {
            Ok(rep) => {
                line.clear();
                let _ = rep.write_line(&mut line);
                say(&mut link, &line);
                led.show(rep.window);
            }
            Err(e) => {
                defmt::warn!("imu step: {}", defmt::Debug2Format(&e));
                say(&mut link, "imu: read failed, re-initialising\n");
                ready = false;
            }
        }
    }
}
