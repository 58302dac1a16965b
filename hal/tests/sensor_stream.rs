//! The board's sensor path on the host: the LSM6DSO driver on a scripted I2C bus
//! (`embedded-hal-mock`) replaying the recorded BasicMotions test set as the chip's raw
//! registers, through `SensorStream` (units, `Engine::step_raw`, `models::decision`), must decide
//! exactly what the host simulation decides on the same values; bus errors and a foreign chip
//! are error values.
use std::io::Read;

use embedded_hal::i2c::{ErrorKind, NoAcknowledgeSource};
use embedded_hal_mock::eh1::digital::{Mock as PinMock, State, Transaction as PinT};
use embedded_hal_mock::eh1::i2c::{Mock as I2cMock, Transaction as T};
use snn_hal::decision_led::BlinkCode;
use snn_hal::imu::lsm6dso::{self, reg, Config, Error, Lsm6dso, ADDRESS_SA0_HIGH as ADDR};
use snn_hal::sensor_stream::{DecisionBuffers, Rules, SensorStream, StepError, Units};
use snn_models::decision::{FinalCount, FirstToThreshold, Populations, Window};
use snn_models::EngineBuffers;

/// The zoo model trained on BasicMotions (m/s² and rad/s, 10 Hz, 100 steps).
const MODEL: &[u8] = include_bytes!("../../models/zoo/basic_motions.snn");
/// The model's raw unit 2^-9: accelerations to ±64 m/s², rates to ±64 rad/s.
const EXP: i8 = -9;
const RULES: Rules = Rules {
    window: 10,
    threshold: 5,
};

/// `(channels x steps values, label)` per series of a `.ts.gz` file of the UEA archive
/// (`@classLabel true A B ...` gives the label order; `@data` lines are
/// `c0v0,c0v1,...:c1v0,...:label`).
fn read_ts(name: &str) -> Vec<(Vec<Vec<f64>>, u16)> {
    let path = format!("{}/../sdk/data/{name}", env!("CARGO_MANIFEST_DIR"));
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(&path).unwrap())
        .read_to_string(&mut text)
        .unwrap();
    let mut classes: Vec<String> = Vec::new();
    let mut out = Vec::new();
    let mut data = false;
    for line in text.lines().map(str::trim) {
        if let Some(rest) = line.strip_prefix("@classLabel true") {
            classes = rest.split_whitespace().map(String::from).collect();
        } else if line.eq_ignore_ascii_case("@data") {
            data = true;
        } else if data && !line.is_empty() {
            let mut parts: Vec<&str> = line.split(':').collect();
            let label = parts.pop().unwrap();
            let label = classes.iter().position(|c| c == label).unwrap() as u16;
            let channels = parts
                .iter()
                .map(|p| p.split(',').map(|v| v.parse().unwrap()).collect())
                .collect();
            out.push((channels, label));
        }
    }
    out
}

/// The chip's 12 output bytes for a reading `[ax, ay, az, gx, gy, gz]` (gyro first, LE).
fn registers(lsb: [i16; 6]) -> Vec<u8> {
    [lsb[3], lsb[4], lsb[5], lsb[0], lsb[1], lsb[2]]
        .iter()
        .flat_map(|v| v.to_le_bytes())
        .collect()
}

fn init_transactions(cfg: &Config) -> Vec<T> {
    vec![
        T::write_read(ADDR, vec![reg::WHO_AM_I], vec![lsm6dso::WHO_AM_I_VALUE]),
        T::write(ADDR, vec![reg::CTRL3_C, 0x44]),
        T::write(ADDR, vec![reg::CTRL1_XL, cfg.ctrl1_xl()]),
        T::write(ADDR, vec![reg::CTRL2_G, cfg.ctrl2_g()]),
    ]
}

#[test]
fn init_writes_the_datasheet_register_values() {
    let cfg = Config::ACTIVITY;
    // 12.5 Hz (0001), ±8 g (FS_XL 11), ±2000 dps (FS_G 11).
    assert_eq!((cfg.ctrl1_xl(), cfg.ctrl2_g()), (0x1C, 0x1C));
    let other = Config {
        odr: lsm6dso::Odr::Hz104,
        accel: lsm6dso::AccelRange::G16,
        gyro: lsm6dso::GyroRange::Dps125,
    };
    assert_eq!((other.ctrl1_xl(), other.ctrl2_g()), (0x44, 0x42));
    let mut tx = init_transactions(&cfg);
    tx.push(T::write_read(ADDR, vec![reg::STATUS_REG], vec![0b101]));
    tx.push(T::write_read(ADDR, vec![reg::STATUS_REG], vec![0b011]));
    tx.push(T::write_read(
        ADDR,
        vec![reg::OUTX_L_G],
        registers([1, -2, 3, -4, 5, i16::MIN]),
    ));
    let mut imu = Lsm6dso::new(I2cMock::new(&tx), ADDR);
    imu.init(&cfg).unwrap();
    assert!(!imu.data_ready().unwrap(), "gyro not ready");
    assert!(imu.data_ready().unwrap());
    assert_eq!(imu.read().unwrap(), [1, -2, 3, -4, 5, i16::MIN]);
    imu.release().done();
}

#[test]
fn a_wrong_chip_or_a_nack_is_an_error_value() {
    // Another chip answers WHO_AM_I: nothing is configured.
    let tx = [T::write_read(ADDR, vec![reg::WHO_AM_I], vec![0x6A])];
    let mut imu = Lsm6dso::new(I2cMock::new(&tx), ADDR);
    assert_eq!(
        imu.init(&Config::ACTIVITY),
        Err(Error::WrongChip { found: 0x6A })
    );
    assert!(Error::<ErrorKind>::WrongChip { found: 0x6A }
        .to_string()
        .contains("expected 0x6c"));
    imu.release().done();
    // Nobody at the address.
    let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Address);
    let tx = [T::write_read(ADDR, vec![reg::WHO_AM_I], vec![0]).with_error(nack)];
    let mut imu = Lsm6dso::new(I2cMock::new(&tx), ADDR);
    assert_eq!(imu.init(&Config::ACTIVITY), Err(Error::I2c(nack)));
    imu.release().done();
    // The configuration write is not acknowledged.
    let mut tx = init_transactions(&Config::ACTIVITY);
    tx.truncate(2);
    tx[1] = tx[1].clone().with_error(nack);
    let mut imu = Lsm6dso::new(I2cMock::new(&tx), ADDR);
    assert_eq!(imu.init(&Config::ACTIVITY), Err(Error::I2c(nack)));
    imu.release().done();
}

#[test]
fn units_round_the_sensor_lsb_into_the_models_raw_unit() {
    let si = Config::ACTIVITY.si_per_lsb();
    let u = Units::from_physical(&si, EXP).unwrap();
    // 0.244 mg = 2.3928e-3 m/s² -> x 2^25 = 80_289.8; 70 mdps = 1.2217e-3 rad/s -> 40_994.47.
    assert_eq!(
        u.mul_q16(),
        &[80_290, 80_290, 80_290, 40_994, 40_994, 40_994]
    );
    let mut out = [0i16; 6];
    u.convert(&[4096, -4096, 1, i16::MAX, i16::MIN, 0], &mut out);
    // 4096 LSB = 0.98 g = 9.80 m/s² = 5018.6 units of 2^-9.
    assert_eq!(out, [5018, -5018, 1, 20496, -20497, 0]);
    let big = Units::new(0, &[1 << 20]).unwrap();
    let mut o = [0i16];
    big.convert(&[30_000], &mut o);
    assert_eq!(o, [i16::MAX], "saturates");
    assert!(Units::from_physical(&[1.0; 17], 0).is_none());
    assert!(Units::from_physical(&[1e9], 0).is_none());
}

/// The host simulation of one segment: the engine on `x = raw * 2^exp` as `f32` frames through
/// `step_values` (the path of `snn simulate`), decided by `models::decision`.
struct HostSim {
    window: Vec<Option<u16>>,
    first: Option<snn_models::decision::Reached>,
    fin: u16,
}

fn host_sim(model: &snn_models::Model<'_>, frames: &[[i16; 6]]) -> HostSim {
    let mut state = EngineBuffers::for_model(model);
    let mut e = state.engine(model).unwrap();
    let pops = Populations::of(model).unwrap();
    let k = usize::from(pops.classes());
    let (mut fc, mut ring, mut sums, mut tc) = (
        vec![0; k],
        vec![0; RULES.window * k],
        vec![0; k],
        vec![0; k],
    );
    let mut fin = FinalCount::new(pops, &mut fc).unwrap();
    let mut win = Window::new(pops, RULES.window, &mut ring, &mut sums).unwrap();
    let mut first = FirstToThreshold::new(pops, RULES.threshold, &mut tc).unwrap();
    let unit = 2f32.powi(i32::from(EXP));
    let mut window = Vec::new();
    for f in frames {
        let x: Vec<f32> = f.iter().map(|&v| f32::from(v) * unit).collect();
        e.step_values(&x).unwrap();
        let spikes = e.layer_spikes(model.layers.len() - 1);
        fin.push(spikes).unwrap();
        window.push(win.push(spikes).unwrap());
        first.push(spikes).unwrap();
    }
    assert_eq!(fin.decision(), e.predicted_class());
    HostSim {
        window,
        first: first.reached(),
        fin: fin.decision(),
    }
}

#[test]
fn replayed_basic_motions_through_the_i2c_driver_decide_as_the_host_simulation() {
    let model = snn_models::decode(MODEL).unwrap();
    assert_eq!(model.channels.len(), 6);
    let test = read_ts("BasicMotions_TEST.ts.gz");
    assert_eq!(test.len(), 40);
    let cfg = Config::ACTIVITY;
    let si = cfg.si_per_lsb();
    let units = Units::from_physical(&si, EXP).unwrap();

    // What the chip would hold: each recorded value in its LSB (round, saturate).
    let lsb: Vec<Vec<[i16; 6]>> = test
        .iter()
        .map(|(ch, _)| {
            (0..ch[0].len())
                .map(|t| {
                    std::array::from_fn(|c| {
                        (ch[c][t] / si[c]).round().clamp(-32768.0, 32767.0) as i16
                    })
                })
                .collect()
        })
        .collect();
    let nack = ErrorKind::NoAcknowledge(NoAcknowledgeSource::Data);
    let mut tx = init_transactions(&cfg);
    for (i, sample) in lsb.iter().enumerate() {
        for (t, frame) in sample.iter().enumerate() {
            if i == 3 && t == 50 {
                // A glitch on the bus mid-sample: the step fails and is retried.
                tx.push(T::write_read(ADDR, vec![reg::OUTX_L_G], vec![0; 12]).with_error(nack));
            }
            tx.push(T::write_read(ADDR, vec![reg::OUTX_L_G], registers(*frame)));
        }
    }
    let mut imu = Lsm6dso::new(I2cMock::new(&tx), ADDR);
    imu.init(&cfg).unwrap();

    let mut state = EngineBuffers::for_model(&model);
    let engine = state.engine(&model).unwrap();
    let k = usize::from(model.header.num_classes);
    let (mut fc, mut ring, mut sums, mut tc) = (
        vec![0; k],
        vec![0; RULES.window * k],
        vec![0; k],
        vec![0; k],
    );
    let buffers = DecisionBuffers {
        final_counts: &mut fc,
        window_ring: &mut ring,
        window_sums: &mut sums,
        first_counts: &mut tc,
    };
    let mut stream = SensorStream::new(engine, &model, units, RULES, buffers).unwrap();
    assert_eq!(stream.segment_len(), 100);

    let mut correct = 0;
    let mut decided_early = 0;
    let mut line = String::new();
    for (i, sample) in lsb.iter().enumerate() {
        let mut frames = Vec::new();
        let mut reports = Vec::new();
        for (t, lsb_t) in sample.iter().enumerate() {
            let rep = match stream.step(&mut imu) {
                Err(StepError::Sensor(Error::I2c(e))) => {
                    assert_eq!((i, t, e), (3, 50, nack));
                    stream.step(&mut imu).unwrap()
                }
                other => other.unwrap(),
            };
            assert_eq!(stream.last_sensor_frame(), &lsb_t[..]);
            // The documented conversion, recomputed: round(lsb * mul / 2^16), half up.
            let mul = units.mul_q16();
            let frame: [i16; 6] = std::array::from_fn(|c| {
                ((i64::from(lsb_t[c]) * i64::from(mul[c]) + 32768) >> 16) as i16
            });
            assert_eq!(stream.last_frame(), &frame[..]);
            // ... which is the recorded value within one sensor LSB and one model unit.
            for c in 0..6 {
                let x = f64::from(frame[c]) * 2f64.powi(i32::from(EXP));
                let err = (x - test[i].0[c][t]).abs();
                assert!(
                    err <= si[c] + 2f64.powi(i32::from(EXP)),
                    "sample {i} step {t} channel {c}: {err}"
                );
            }
            frames.push(frame);
            reports.push(rep);
        }
        let host = host_sim(&model, &frames);
        for (t, rep) in reports.iter().enumerate() {
            assert_eq!(rep.step as usize, t + 1);
            assert_eq!(rep.window, host.window[t], "sample {i} step {t}: window");
            let first_so_far = host.first.filter(|f| f.step as usize <= t + 1);
            assert_eq!(rep.first, first_so_far, "sample {i} step {t}: first");
        }
        let last = reports.last().unwrap();
        assert_eq!(last.segment_end, Some(host.fin), "sample {i}: final");
        assert!(reports[..99].iter().all(|r| r.segment_end.is_none()));
        correct += usize::from(host.fin == test[i].1);
        decided_early += usize::from(host.first.is_some_and(|f| f.step < 100));
        line.clear();
        last.write_line(&mut line).unwrap();
        assert!(
            line.starts_with("step=100 out=") && line.ends_with(&format!(" final={}\n", host.fin)),
            "{line}"
        );
    }
    imu.release().done();
    // The chip's quantisation costs the model little: it scored 100 % on the recorded floats.
    assert!(
        correct >= 36,
        "{correct}/40 correct from the replayed sensor"
    );
    assert!(
        decided_early > 20,
        "first-to-threshold decided early in {decided_early}/40"
    );
    eprintln!("replayed BasicMotions: {correct}/40 final count correct, {decided_early}/40 reached N early");

    // The LED blinks class 1 as two flashes then two dark steps, and goes dark on no decision.
    let pin = [
        PinT::set(State::High),
        PinT::set(State::Low),
        PinT::set(State::High),
        PinT::set(State::Low),
        PinT::set(State::Low),
        PinT::set(State::Low),
        PinT::set(State::High),
        PinT::set(State::Low),
    ];
    let mut led = BlinkCode::new(PinMock::new(&pin));
    let shown: Vec<bool> = [Some(1); 7]
        .into_iter()
        .chain([None])
        .map(|c| led.show(c))
        .collect();
    assert_eq!(shown, [true, false, true, false, false, false, true, false]);
    led.release().done();
}

#[test]
fn a_model_and_units_of_different_channels_are_refused() {
    let model = snn_models::decode(MODEL).unwrap();
    let mut state = EngineBuffers::for_model(&model);
    let engine = state.engine(&model).unwrap();
    let (mut fc, mut ring, mut sums, mut tc) = ([0; 4], [0; 40], [0; 4], [0; 4]);
    let buffers = DecisionBuffers {
        final_counts: &mut fc,
        window_ring: &mut ring,
        window_sums: &mut sums,
        first_counts: &mut tc,
    };
    let units = Units::new(EXP, &[1 << 16; 3]).unwrap();
    assert!(matches!(
        SensorStream::new(engine, &model, units, RULES, buffers),
        Err(snn_hal::sensor_stream::SetupError::Channels { model: 6, units: 3 })
    ));
}
