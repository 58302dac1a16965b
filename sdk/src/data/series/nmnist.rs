//! N-MNIST-style binary event files: 5-byte (40-bit) records, big-endian fields
//! `x (8 bits) | y (8) | polarity (1) | timestamp (23, microseconds)`. Polarity 1 is ON.
//! A data set is a directory with one sub-directory per class (`Train/0/00002.bin`, ...).
use std::path::Path;

use super::error::SeriesError;
use super::{Event, EventStream};

/// Bytes per event record.
pub const RECORD: usize = 5;

/// Decodes one record: `(x, y, polarity, time_us)`.
pub fn decode_record(r: &[u8; RECORD]) -> (u8, u8, bool, u32) {
    let ts = (u32::from(r[2] & 0x7F) << 16) | (u32::from(r[3]) << 8) | u32::from(r[4]);
    (r[0], r[1], r[2] & 0x80 != 0, ts)
}

/// Encodes one record (timestamps above 23 bits are cut to 23 bits).
pub fn encode_record(x: u8, y: u8, on: bool, time_us: u32) -> [u8; RECORD] {
    let t = time_us & 0x7F_FFFF;
    [
        x,
        y,
        (u8::from(on) << 7) | (t >> 16) as u8,
        (t >> 8) as u8,
        t as u8,
    ]
}

/// Parses the bytes of one file of a `width x height` sensor; the channel of pixel `(x, y)` is
/// `y * width + x`. Refuses a partial record and a pixel outside the sensor, naming the record.
pub fn parse(path: &Path, bytes: &[u8], width: u8, height: u8) -> Result<EventStream, SeriesError> {
    if !bytes.len().is_multiple_of(RECORD) {
        return Err(SeriesError::record(
            path,
            bytes.len() / RECORD,
            "length",
            format!(
                "the file ends inside a record ({} bytes is not a multiple of {RECORD})",
                bytes.len()
            ),
        ));
    }
    let mut events = Vec::with_capacity(bytes.len() / RECORD);
    for (i, r) in bytes.chunks_exact(RECORD).enumerate() {
        let r: &[u8; RECORD] = r.try_into().expect("chunks_exact");
        let (x, y, on, ts) = decode_record(r);
        if x >= width {
            return Err(SeriesError::record(
                path,
                i,
                "x",
                format!("{x} is not below the sensor width {width}"),
            ));
        }
        if y >= height {
            return Err(SeriesError::record(
                path,
                i,
                "y",
                format!("{y} is not below the sensor height {height}"),
            ));
        }
        events.push(Event {
            time_us: u64::from(ts),
            channel: u32::from(y) * u32::from(width) + u32::from(x),
            polarity: Some(on),
        });
    }
    events.sort_by_key(|e| e.time_us);
    Ok(EventStream {
        channels: u32::from(width) * u32::from(height),
        events,
    })
}

/// Reads one event file.
pub fn read(path: &Path, width: u8, height: u8) -> Result<EventStream, SeriesError> {
    let bytes = std::fs::read(path).map_err(|source| SeriesError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse(path, &bytes, width, height)
}

/// A labelled set of event streams.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventSet {
    /// Class names, sorted; label `k` is `classes[k]`.
    pub classes: Vec<String>,
    /// The streams.
    pub streams: Vec<EventStream>,
    /// One label per stream.
    pub labels: Vec<usize>,
}

/// Reads a directory of class sub-directories (class names sorted); files within a class are
/// taken in name order.
pub fn read_dir(dir: &Path, width: u8, height: u8) -> Result<EventSet, SeriesError> {
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |source| SeriesError::Io { path: p, source }
    };
    let mut classes: Vec<String> = std::fs::read_dir(dir)
        .map_err(io(dir))?
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    classes.sort();
    if classes.is_empty() {
        return Err(SeriesError::file(
            dir,
            "no class sub-directories (expected e.g. 0/, 1/, ...)",
        ));
    }
    let (mut streams, mut labels) = (Vec::new(), Vec::new());
    for (k, c) in classes.iter().enumerate() {
        let sub = dir.join(c);
        let mut files: Vec<_> = std::fs::read_dir(&sub)
            .map_err(io(&sub))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "bin"))
            .collect();
        files.sort();
        for f in files {
            streams.push(read(&f, width, height)?);
            labels.push(k);
        }
    }
    Ok(EventSet {
        classes,
        streams,
        labels,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_round_trip_at_the_field_limits() {
        for (x, y, on, t) in [
            (0, 0, false, 0),
            (33, 33, true, 0x7F_FFFF),
            (5, 7, true, 123_456),
        ] {
            assert_eq!(decode_record(&encode_record(x, y, on, t)), (x, y, on, t));
        }
        // Known bytes: x 1, y 2, ON, t = 0x012345.
        assert_eq!(
            encode_record(1, 2, true, 0x01_2345),
            [1, 2, 0x81, 0x23, 0x45]
        );
    }

    #[test]
    fn writes_a_class_directory_and_reads_it_back() {
        let dir = std::env::temp_dir().join(format!("snn-nmnist-{}", std::process::id()));
        for c in ["0", "1"] {
            std::fs::create_dir_all(dir.join(c)).unwrap();
        }
        let mut a = Vec::new();
        a.extend(encode_record(3, 1, true, 2000));
        a.extend(encode_record(0, 0, false, 10));
        std::fs::write(dir.join("0/00001.bin"), &a).unwrap();
        std::fs::write(dir.join("1/00002.bin"), encode_record(33, 33, true, 5)).unwrap();
        let EventSet {
            classes,
            streams,
            labels,
        } = read_dir(&dir, 34, 34).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(classes, ["0", "1"]);
        assert_eq!(labels, [0, 1]);
        assert_eq!(streams[0].channels, 34 * 34);
        assert_eq!(
            streams[0].events,
            [
                Event {
                    time_us: 10,
                    channel: 0,
                    polarity: Some(false)
                },
                Event {
                    time_us: 2000,
                    channel: 34 + 3,
                    polarity: Some(true)
                },
            ]
        );
        assert_eq!(streams[1].events[0].channel, 33 * 34 + 33);
    }

    #[test]
    fn bad_records_are_named() {
        let p = Path::new("e.bin");
        let mut b = encode_record(1, 1, true, 1).to_vec();
        b.push(0);
        let msg = parse(p, &b, 34, 34).unwrap_err().to_string();
        assert_eq!(msg, "e.bin, record 1: length: the file ends inside a record (6 bytes is not a multiple of 5)");
        let mut b = encode_record(1, 1, true, 1).to_vec();
        b.extend(encode_record(40, 1, true, 2));
        let msg = parse(p, &b, 34, 34).unwrap_err().to_string();
        assert_eq!(
            msg,
            "e.bin, record 1: x: 40 is not below the sensor width 34"
        );
        let msg = parse(p, &encode_record(1, 34, true, 2), 34, 34)
            .unwrap_err()
            .to_string();
        assert_eq!(
            msg,
            "e.bin, record 0: y: 34 is not below the sensor height 34"
        );
    }
}
