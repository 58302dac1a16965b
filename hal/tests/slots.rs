//! Model slots against a flash that loses power: every prefix of an upload is interrupted (the
//! failing erase or write half done, nothing after it), the board "reboots", and it must come
//! up with the old model, never none and never a broken one; a finished upload must come back.
use embedded_storage::nor_flash::{ErrorType, NorFlash, NorFlashErrorKind, ReadNorFlash};
use snn_hal::protocol::ErrorCode;
use snn_hal::ram_flash::{RamFlash, RamFlashError};
use snn_hal::slots::{SlotError, Slots};
use snn_hal::synthetic::digits_model;
use snn_hal::{Backend, Persistent};
use snn_models::crc::crc32;

const SLOT: u32 = 16 * 1024;
const CHUNK: usize = 100;

/// RAM flash that loses power at operation `fail_at` (erase or write; `None`: never): that
/// operation is half applied and fails, and so does every later one.
struct PowerCut<'a> {
    flash: RamFlash<'a>,
    ops: usize,
    fail_at: Option<usize>,
}

impl ErrorType for PowerCut<'_> {
    type Error = RamFlashError;
}

impl ReadNorFlash for PowerCut<'_> {
    const READ_SIZE: usize = 1;
    fn read(&mut self, offset: u32, bytes: &mut [u8]) -> Result<(), Self::Error> {
        self.flash.read(offset, bytes)
    }
    fn capacity(&self) -> usize {
        self.flash.capacity()
    }
}

impl PowerCut<'_> {
    /// Counts an operation; `Some(dead)` when power is gone (`dead`: this is the op that dies).
    fn tick(&mut self) -> Option<bool> {
        let n = self.ops;
        self.ops += 1;
        match self.fail_at {
            Some(f) if n == f => Some(true),
            Some(f) if n > f => Some(false),
            _ => None,
        }
    }
}

impl NorFlash for PowerCut<'_> {
    const WRITE_SIZE: usize = 4;
    const ERASE_SIZE: usize = 4096;
    fn erase(&mut self, from: u32, to: u32) -> Result<(), Self::Error> {
        match self.tick() {
            None => self.flash.erase(from, to),
            Some(dying) => {
                if dying {
                    // Half the units erased.
                    let units = (to - from) / 4096;
                    self.flash.erase(from, from + units / 2 * 4096)?;
                }
                Err(RamFlashError(NorFlashErrorKind::Other))
            }
        }
    }
    fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), Self::Error> {
        match self.tick() {
            None => self.flash.write(offset, bytes),
            Some(dying) => {
                if dying {
                    let half = bytes.len() / 2 / 4 * 4;
                    self.flash.write(offset, &bytes[..half])?;
                }
                Err(RamFlashError(NorFlashErrorKind::Other))
            }
        }
    }
}

mod common;

/// RAM for the backend behind the slots (models up to 32 KiB).
fn ram() -> common::Store {
    common::Store::sized(32 * 1024, 1024, 1280, 256)
}

/// Uploads `model` through a `Persistent` backend over `mem`, power lost at op `fail_at`;
/// returns whether the upload succeeded and how many flash operations it took.
fn upload(mem: &mut [u8], model: &[u8], fail_at: Option<usize>) -> (bool, usize) {
    let mut ram = ram();
    let flash = PowerCut {
        flash: RamFlash::new(mem),
        ops: 0,
        fail_at,
    };
    let mut p = Persistent::new(ram.backend(), Some(Slots::new(flash, 0, SLOT).unwrap()));
    let ok = (|| {
        p.begin_load(model.len() as u32)?;
        for (i, c) in model.chunks(CHUNK).enumerate() {
            p.write_chunk((i * CHUNK) as u32, c)?;
        }
        p.finish_load(crc32(model))
    })();
    if let Err(e) = &ok {
        assert_eq!(e.code, ErrorCode::Storage, "{e:?}");
    }
    let ops = p.slots_mut().unwrap().flash_mut().ops;
    (ok.is_ok(), ops)
}

/// Boots on `mem`: the CRC of the model it restores (None: no model).
fn boot(mem: &mut [u8]) -> Option<u32> {
    let mut ram = ram();
    let slots = Slots::new(RamFlash::new(mem), 0, SLOT).unwrap();
    let mut p = Persistent::new(ram.backend(), Some(slots));
    let r = p.restore().expect("a valid slot always loads");
    let crc = r.map(|(_, info)| info.crc);
    assert_eq!(p.model().map(|m| m.crc), crc);
    crc
}

#[test]
fn power_lost_at_every_flash_operation_of_an_upload_keeps_the_old_model() {
    // A fresh chip: RAM-like garbage, not erased flash.
    let mut mem: Vec<u8> = (0..2 * SLOT).map(|i| (i * 7 + 3) as u8).collect();
    assert_eq!(boot(&mut mem), None, "garbage is no model");
    let models: Vec<Vec<u8>> = [(64, 1), (96, 2), (80, 3), (128, 4)]
        .iter()
        .map(|&(h, s)| digits_model(h, s).unwrap())
        .collect();
    // The first upload, interrupted at every step, leaves no model and no broken one.
    let (ok, ops) = upload(&mut mem.clone(), &models[0], None);
    assert!(ok);
    for k in 0..ops {
        let mut m = mem.clone();
        assert!(!upload(&mut m, &models[0], Some(k)).0);
        assert_eq!(boot(&mut m), None, "first upload cut at op {k}");
    }
    assert!(upload(&mut mem, &models[0], None).0);
    assert_eq!(boot(&mut mem), Some(crc32(&models[0])));
    // Each later upload, cut at every op, boots the previous model; finished, the new one.
    let mut tried = 0;
    for pair in models.windows(2) {
        let (old, new) = (&pair[0], &pair[1]);
        let (ok, ops) = upload(&mut mem.clone(), new, None);
        assert!(ok && ops > 3, "{ops} ops");
        for k in 0..ops {
            let mut m = mem.clone();
            assert!(!upload(&mut m, new, Some(k)).0);
            assert_eq!(
                boot(&mut m),
                Some(crc32(old)),
                "upload cut at op {k} of {ops}"
            );
            tried += 1;
        }
        assert!(upload(&mut mem, new, None).0);
        assert_eq!(boot(&mut mem), Some(crc32(new)));
    }
    assert!(tried > 100, "{tried} interruptions tried");
}

#[test]
fn a_refused_upload_does_not_replace_the_stored_model() {
    let mut mem = vec![0xFFu8; 2 * SLOT as usize];
    let good = digits_model(64, 1).unwrap();
    assert!(upload(&mut mem, &good, None).0);
    // A corrupt model behind a matching CRC is refused by the backend; the slot is not committed.
    let mut bad = digits_model(96, 2).unwrap();
    bad[20] ^= 0x40;
    let mut ram = ram();
    let slots = Slots::new(RamFlash::new(&mut mem), 0, SLOT).unwrap();
    let mut p = Persistent::new(ram.backend(), Some(slots));
    p.begin_load(bad.len() as u32).unwrap();
    p.write_chunk(0, &bad).unwrap();
    assert_eq!(
        p.finish_load(crc32(&bad)).unwrap_err().code,
        ErrorCode::BadModel
    );
    drop(p);
    assert_eq!(boot(&mut mem), Some(crc32(&good)));
    // Twice the same model alternates slots and still boots it.
    for _ in 0..3 {
        assert!(upload(&mut mem, &good, None).0);
        assert_eq!(boot(&mut mem), Some(crc32(&good)));
    }
}

#[test]
fn slot_layout_and_order_are_checked() {
    let mut mem = vec![0xFFu8; 2 * SLOT as usize];
    assert_eq!(
        Slots::new(RamFlash::new(&mut mem), 100, SLOT).unwrap_err(),
        SlotError::Layout
    );
    assert_eq!(
        Slots::new(RamFlash::new(&mut mem), 0, SLOT * 2).unwrap_err(),
        SlotError::Layout
    );
    let mut s = Slots::new(RamFlash::new(&mut mem), 0, SLOT).unwrap();
    assert_eq!(s.begin(SLOT).unwrap_err(), SlotError::TooLarge);
    assert_eq!(s.write(0, &[1]).unwrap_err(), SlotError::Order);
    s.begin(10).unwrap();
    assert_eq!(s.write(1, &[1]).unwrap_err(), SlotError::Order);
    s.write(0, &[1, 2, 3]).unwrap();
    assert_eq!(s.commit(0).unwrap_err(), SlotError::Order);
}
