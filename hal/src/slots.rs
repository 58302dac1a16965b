//! Two model slots in flash, so a model survives reset and power loss, and an interrupted upload
//! never leaves the board without one.
//!
//! Each slot is `header (32 bytes) ++ model file`, starting on an erase boundary. The header is
//! `"SNSL" ++ generation ++ len ++ crc ++ header_crc` (u32 LE each, then `0xFF` padding), where
//! `crc = crc32(model file)` and `header_crc = crc32(the 16 bytes before it)`. A slot is *valid*
//! when both CRCs match; boot takes the valid slot with the highest generation.
//!
//! An upload erases and fills the slot that does *not* hold the newest valid model, and writes
//! its header last, with `generation = newest + 1`. Power lost at any point before the header's
//! last byte leaves that slot invalid (erased `0xFF`s or a header whose CRC fails) and the old
//! slot untouched, so the board boots the old model; after it, the new one. Works on any
//! `embedded-storage` [`NorFlash`] whose write size divides 16 (internal flash of most MCUs).
use embedded_storage::nor_flash::NorFlash;
use snn_models::crc::{crc32, Crc32};

/// Bytes of a slot header (room for write sizes up to 32).
pub const HEADER: usize = 32;
const MAGIC: [u8; 4] = *b"SNSL";
/// Largest write granularity supported (bytes are staged to this alignment).
const MAX_WRITE: usize = 16;
/// Bytes read back per flash read when checking a slot.
const READ_CHUNK: usize = 256;

/// Why a slot operation failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SlotError {
    /// The flash driver reported an error (erase, write or read).
    Flash,
    /// The slots do not fit the flash, or are not aligned to its erase/write sizes.
    Layout,
    /// The model does not fit a slot.
    TooLarge,
    /// A write was not at the next offset, or no upload is in progress.
    Order,
    /// What was written does not read back with the upload's CRC.
    Verify,
}

/// A valid slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SlotInfo {
    /// Slot index (0 or 1).
    pub index: u8,
    /// Generation: higher is newer.
    pub generation: u32,
    /// Model file length, bytes.
    pub len: u32,
    /// CRC-32 of the model file.
    pub crc: u32,
}

#[derive(Clone, Copy, Debug)]
struct Writing {
    index: u8,
    len: u32,
    /// Model bytes taken so far (staged ones included).
    received: u32,
}

/// Two slots of `slot_size` bytes at `base` in `flash`.
#[derive(Debug)]
pub struct Slots<F> {
    flash: F,
    base: u32,
    slot_size: u32,
    writing: Option<Writing>,
    stage: [u8; MAX_WRITE],
    staged: usize,
}

impl<F: NorFlash> Slots<F> {
    /// Slots at `base` (erase-aligned) of `slot_size` bytes each (a multiple of the erase size).
    pub fn new(flash: F, base: u32, slot_size: u32) -> Result<Self, SlotError> {
        let erase = F::ERASE_SIZE as u64;
        let fits = u64::from(base) + 2 * u64::from(slot_size) <= flash.capacity() as u64;
        let aligned = erase > 0
            && u64::from(base).is_multiple_of(erase)
            && u64::from(slot_size).is_multiple_of(erase)
            && MAX_WRITE.is_multiple_of(F::WRITE_SIZE.max(1))
            && HEADER.is_multiple_of(F::READ_SIZE.max(1))
            && READ_CHUNK.is_multiple_of(F::READ_SIZE.max(1));
        if !fits || !aligned || (slot_size as usize) <= HEADER {
            return Err(SlotError::Layout);
        }
        Ok(Self {
            flash,
            base,
            slot_size,
            writing: None,
            stage: [0xFF; MAX_WRITE],
            staged: 0,
        })
    }

    /// The largest model file a slot holds.
    pub fn capacity(&self) -> u32 {
        self.slot_size - HEADER as u32
    }

    /// The flash (e.g. to inspect it in a test).
    pub fn flash_mut(&mut self) -> &mut F {
        &mut self.flash
    }

    /// `n` rounded up to the read size (still inside the slot: its size is erase-aligned).
    fn read_len(n: usize) -> usize {
        let rs = F::READ_SIZE.max(1);
        n.div_ceil(rs) * rs
    }

    fn start(&self, index: u8) -> u32 {
        self.base + u32::from(index) * self.slot_size
    }

    /// Reads and checks slot `index`: `None` when it holds no valid model.
    pub fn check(&mut self, index: u8) -> Result<Option<SlotInfo>, SlotError> {
        let mut h = [0u8; HEADER];
        let at = self.start(index);
        self.flash.read(at, &mut h).map_err(|_| SlotError::Flash)?;
        let word = |i: usize| u32::from_le_bytes([h[i], h[i + 1], h[i + 2], h[i + 3]]);
        if h[..4] != MAGIC || crc32(&h[..16]) != word(16) {
            return Ok(None);
        }
        let (generation, len, crc) = (word(4), word(8), word(12));
        if len > self.capacity() {
            return Ok(None);
        }
        let mut sum = Crc32::new();
        let mut buf = [0u8; READ_CHUNK];
        let mut off = 0u32;
        while off < len {
            let n = (len - off).min(READ_CHUNK as u32) as usize;
            let r = Self::read_len(n);
            self.flash
                .read(at + HEADER as u32 + off, &mut buf[..r])
                .map_err(|_| SlotError::Flash)?;
            sum = sum.update(&buf[..n]);
            off += n as u32;
        }
        Ok((sum.finish() == crc).then_some(SlotInfo {
            index,
            generation,
            len,
            crc,
        }))
    }

    /// The valid slot with the highest generation, if any.
    pub fn newest(&mut self) -> Result<Option<SlotInfo>, SlotError> {
        let a = self.check(0)?;
        let b = self.check(1)?;
        Ok(match (a, b) {
            (Some(a), Some(b)) => Some(if b.generation > a.generation { b } else { a }),
            (a, b) => a.or(b),
        })
    }

    /// Reads `buf.len()` bytes of the model in `slot` from `offset`.
    pub fn read(&mut self, slot: &SlotInfo, offset: u32, buf: &mut [u8]) -> Result<(), SlotError> {
        let at = self.start(slot.index) + HEADER as u32 + offset;
        self.flash.read(at, buf).map_err(|_| SlotError::Flash)
    }

    /// Starts writing a model of `len` bytes into the slot not holding the newest valid model
    /// (erasing it); the newest valid model stays untouched until [`Slots::commit`].
    pub fn begin(&mut self, len: u32) -> Result<(), SlotError> {
        self.writing = None;
        if len > self.capacity() {
            return Err(SlotError::TooLarge);
        }
        let index = match self.newest()? {
            Some(s) => 1 - s.index,
            None => 0,
        };
        let erase = F::ERASE_SIZE as u32;
        let used = (HEADER as u32 + len).div_ceil(erase) * erase;
        let at = self.start(index);
        self.flash
            .erase(at, at + used)
            .map_err(|_| SlotError::Flash)?;
        self.writing = Some(Writing {
            index,
            len,
            received: 0,
        });
        self.staged = 0;
        Ok(())
    }

    /// Writes the next `bytes` of the model (`offset` = bytes written so far).
    pub fn write(&mut self, offset: u32, bytes: &[u8]) -> Result<(), SlotError> {
        let mut w = self.writing.ok_or(SlotError::Order)?;
        let end = u64::from(offset) + bytes.len() as u64;
        if offset != w.received || end > u64::from(w.len) {
            return Err(SlotError::Order);
        }
        let ws = F::WRITE_SIZE.max(1);
        let body = self.start(w.index) + HEADER as u32;
        let mut rest = bytes;
        while !rest.is_empty() {
            // Staged bytes always start on a write-size boundary: `received - staged` is aligned.
            if self.staged == 0 && rest.len() >= ws {
                let n = rest.len() - rest.len() % ws;
                let at = body + w.received;
                self.flash
                    .write(at, &rest[..n])
                    .map_err(|_| SlotError::Flash)?;
                w.received += n as u32;
                rest = &rest[n..];
                continue;
            }
            self.stage[self.staged] = rest[0];
            self.staged += 1;
            w.received += 1;
            rest = &rest[1..];
            if self.staged == ws {
                let at = body + w.received - ws as u32;
                self.flash
                    .write(at, &self.stage[..ws])
                    .map_err(|_| SlotError::Flash)?;
                self.staged = 0;
            }
        }
        self.writing = Some(w);
        Ok(())
    }

    /// Finishes the upload: flushes the last bytes, checks the whole slot reads back with `crc`,
    /// then writes the header that makes it the newest valid slot. Returns its description.
    pub fn commit(&mut self, crc: u32) -> Result<SlotInfo, SlotError> {
        let w = self.writing.take().ok_or(SlotError::Order)?;
        if w.received != w.len {
            return Err(SlotError::Order);
        }
        let ws = F::WRITE_SIZE.max(1);
        let body = self.start(w.index) + HEADER as u32;
        if self.staged > 0 {
            self.stage[self.staged..ws].fill(0xFF);
            let at = body + w.received - self.staged as u32;
            self.flash
                .write(at, &self.stage[..ws])
                .map_err(|_| SlotError::Flash)?;
            self.staged = 0;
        }
        let other = self.check(1 - w.index)?;
        let generation = other.map_or(1, |o| o.generation.wrapping_add(1).max(1));
        let mut h = [0xFFu8; HEADER];
        h[..4].copy_from_slice(&MAGIC);
        h[4..8].copy_from_slice(&generation.to_le_bytes());
        h[8..12].copy_from_slice(&w.len.to_le_bytes());
        h[12..16].copy_from_slice(&crc.to_le_bytes());
        let hc = crc32(&h[..16]);
        h[16..20].copy_from_slice(&hc.to_le_bytes());
        // Check the body before the header makes it count.
        let mut sum = Crc32::new();
        let mut buf = [0u8; READ_CHUNK];
        let mut off = 0u32;
        while off < w.len {
            let n = (w.len - off).min(READ_CHUNK as u32) as usize;
            let r = Self::read_len(n);
            self.flash
                .read(body + off, &mut buf[..r])
                .map_err(|_| SlotError::Flash)?;
            sum = sum.update(&buf[..n]);
            off += n as u32;
        }
        if sum.finish() != crc {
            return Err(SlotError::Verify);
        }
        self.flash
            .write(self.start(w.index), &h)
            .map_err(|_| SlotError::Flash)?;
        Ok(SlotInfo {
            index: w.index,
            generation,
            len: w.len,
            crc,
        })
    }
}
