//! The whole link under fault injection, on the host: a client talking through the noise proxy
//! to the real protocol server on a thread. Every answer accepted must equal the engine's, every
//! request must be answered, and uploads must survive.
mod common;

use common::{host_run, Store};
use snn_hal::host::{Client, ClientError};
use snn_hal::noise::{Noise, NoiseStats, Noisy};
use snn_hal::protocol::{Input, Request};
use snn_hal::synthetic::digits_model;
use snn_hal::IoLink;
use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// `embedded-io` over a std stream, for the server thread.
struct Std(UnixStream);
impl embedded_io::ErrorType for Std {
    type Error = embedded_io::ErrorKind;
}
impl embedded_io::Read for Std {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
        self.0.read(buf).map_err(|_| embedded_io::ErrorKind::Other)
    }
}
impl embedded_io::Write for Std {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.0.write(buf).map_err(|_| embedded_io::ErrorKind::Other)
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.0.flush().map_err(|_| embedded_io::ErrorKind::Other)
    }
}

/// A server thread on one end of a socket pair; the client on the other, through the proxy.
fn noisy_pair(noise: Noise) -> (Client, Arc<Mutex<NoiseStats>>) {
    let (dev, host) = UnixStream::pair().unwrap();
    std::thread::spawn(move || {
        let mut store = Store::sized(64 * 1024, 1024, 1280, 256);
        let mut s = store.server();
        let _ = s.serve(&mut IoLink(Std(dev)));
    });
    let stats = Arc::new(Mutex::new(NoiseStats::default()));
    let up = Noisy::new(host.try_clone().unwrap(), noise, stats.clone());
    let down = Noisy::new(host, noise.reseeded(noise.seed + 1), stats.clone());
    let mut client = Client::new(down, up);
    client.timeout = Duration::from_millis(100);
    (client, stats)
}

#[test]
fn at_a_bit_error_rate_of_1e_3_no_wrong_answer_is_accepted() {
    let model = digits_model(128, 3).unwrap();
    let (mut client, stats) = noisy_pair(Noise::rate(1e-3, 11));
    client.tries = 40;
    client.chunk = 64;
    let loaded = client.load(&model).unwrap();
    assert_eq!(loaded.bytes as usize, model.len());
    for i in 0..300u32 {
        let f: Vec<u8> = (0..64).map(|k| ((k * 29 + i * 13) % 256) as u8).collect();
        let r = client.infer(Input::Features(&f), i).unwrap();
        assert_eq!(r.counts.as_slice(), host_run(&model, &f, i).0, "sample {i}");
    }
    let st = *stats.lock().unwrap();
    let link = client.stats();
    assert!(st.flipped_bits > 100, "noise was injected: {st:?}");
    assert!(link.retries > 50, "the link retried: {link:?}");
    assert!(
        link.corrupt_replies + link.device_link_errors > 0,
        "{link:?}"
    );
}

#[test]
fn a_dead_link_gives_up_after_the_set_tries_with_a_clear_error() {
    let noise = Noise {
        flip: 0.0,
        drop: 1.0,
        duplicate: 0.0,
        truncate: 0.0,
        seed: 1,
    };
    let (mut client, _) = noisy_pair(noise);
    client.tries = 3;
    let e = client.info().unwrap_err();
    assert!(
        matches!(
            e,
            ClientError::GaveUp {
                tries: 3,
                what: "Info",
                ..
            }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("3 tries of Info"), "{e}");
    assert_eq!(client.stats().timeouts, 3);
    assert!(matches!(
        client.call(&Request::LoadEnd),
        Err(ClientError::GaveUp { .. })
    ));
}
