//! A [`Backend`] whose uploaded models are also written to flash slots ([`crate::slots`]), and
//! restored from the newest valid slot at boot.
//!
//! Upload chunks stream to the inner backend and to the free slot at once; the slot is committed
//! only after the inner backend accepted the whole model (CRC, format, signature, size), so a
//! refused or interrupted upload never replaces the stored model.
use crate::backend::{Backend, Limits};
use crate::counter::CycleCounter;
use crate::protocol::{
    ErrorCode, ErrorReply, InferResult, Input, ModelInfo, ReadoutReply, StreamInput, StreamReply,
};
use crate::slots::{SlotError, SlotInfo, Slots};
use crate::spike_out::SpikeOutput;
use embedded_storage::nor_flash::NorFlash;

/// Bytes copied per step when restoring a model from flash.
const RESTORE_CHUNK: usize = 256;

fn storage(what: &str, e: SlotError) -> ErrorReply {
    let mut r = ErrorReply::new(ErrorCode::Storage, what);
    let reason = match e {
        SlotError::Flash => ": the flash driver failed",
        SlotError::Layout => ": slots do not fit the flash",
        SlotError::TooLarge => ": the model does not fit a flash slot",
        SlotError::Order => ": write out of order",
        SlotError::Verify => ": the slot does not read back with the model's CRC",
    };
    let _ = r.reason.push_str(reason);
    r
}

/// `inner`, with every accepted upload stored in `slots` (a board without flash slots passes
/// `None`: then this is `inner` alone).
#[derive(Debug)]
pub struct Persistent<B, F> {
    inner: B,
    slots: Option<Slots<F>>,
    /// Whether the current upload is also going to flash (false once a flash step failed).
    storing: bool,
}

impl<B: Backend, F: NorFlash> Persistent<B, F> {
    /// Wraps `inner`; nothing is read from flash until [`Persistent::restore`].
    pub fn new(inner: B, slots: Option<Slots<F>>) -> Self {
        Self {
            inner,
            slots,
            storing: false,
        }
    }

    /// The slots (e.g. to inspect them in a test).
    pub fn slots_mut(&mut self) -> Option<&mut Slots<F>> {
        self.slots.as_mut()
    }

    /// The inner backend (e.g. to load a built-in model, which is not stored).
    pub fn inner_mut(&mut self) -> &mut B {
        &mut self.inner
    }

    /// Loads the newest valid stored model into the inner backend. `Ok(None)`: no valid slot.
    pub fn restore(&mut self) -> Result<Option<(SlotInfo, ModelInfo)>, ErrorReply> {
        let Some(slots) = self.slots.as_mut() else {
            return Ok(None);
        };
        let Some(slot) = slots
            .newest()
            .map_err(|e| storage("reading the slots", e))?
        else {
            return Ok(None);
        };
        self.inner.begin_load(slot.len)?;
        let mut buf = [0u8; RESTORE_CHUNK];
        let mut off = 0u32;
        while off < slot.len {
            let n = (slot.len - off).min(RESTORE_CHUNK as u32) as usize;
            let piece = buf.get_mut(..n).unwrap_or(&mut []);
            slots
                .read(&slot, off, piece)
                .map_err(|e| storage("reading the stored model", e))?;
            self.inner.write_chunk(off, piece)?;
            off += n as u32;
        }
        let info = self.inner.finish_load(slot.crc)?;
        Ok(Some((slot, info)))
    }
}

impl<B: Backend, F: NorFlash> Backend for Persistent<B, F> {
    fn limits(&self) -> Limits {
        let mut l = self.inner.limits();
        if let Some(s) = &self.slots {
            l.max_model_bytes = l.max_model_bytes.min(s.capacity());
        }
        l
    }

    fn begin_load(&mut self, len: u32) -> Result<(), ErrorReply> {
        self.storing = false;
        self.inner.begin_load(len)?;
        if let Some(s) = self.slots.as_mut() {
            s.begin(len)
                .map_err(|e| storage("preparing a flash slot", e))?;
        }
        self.storing = true;
        Ok(())
    }

    fn write_chunk(&mut self, offset: u32, bytes: &[u8]) -> Result<(), ErrorReply> {
        if !self.storing {
            return Err(ErrorReply::new(
                ErrorCode::NoUpload,
                "no upload in progress (its flash slot failed)",
            ));
        }
        self.inner.write_chunk(offset, bytes)?;
        let Some(s) = self.slots.as_mut() else {
            return Ok(());
        };
        s.write(offset, bytes).map_err(|e| {
            self.storing = false;
            storage("writing the flash slot", e)
        })
    }

    fn finish_load(&mut self, crc: u32) -> Result<ModelInfo, ErrorReply> {
        if !core::mem::take(&mut self.storing) {
            return Err(ErrorReply::new(
                ErrorCode::NoUpload,
                "no upload in progress (its flash slot failed)",
            ));
        }
        let info = self.inner.finish_load(crc)?;
        if let Some(s) = self.slots.as_mut() {
            s.commit(crc)
                .map_err(|e| storage("committing the flash slot", e))?;
        }
        Ok(info)
    }

    fn model(&self) -> Option<&ModelInfo> {
        self.inner.model()
    }

    fn infer(
        &mut self,
        input: Input<'_>,
        sample_seed: u32,
        out: &mut InferResult,
        spikes: &mut dyn SpikeOutput,
    ) -> Result<(), ErrorReply> {
        self.inner.infer(input, sample_seed, out, spikes)
    }

    fn stream_begin(
        &mut self,
        reset: bool,
        exp: i8,
        rules: (u16, u32),
        out: &mut StreamReply,
    ) -> Result<(), ErrorReply> {
        self.inner.stream_begin(reset, exp, rules, out)
    }

    fn readout(&mut self, out: &mut ReadoutReply) -> Result<(), ErrorReply> {
        self.inner.readout(out)
    }

    fn stream_push(
        &mut self,
        input: StreamInput<'_>,
        out: &mut StreamReply,
        spikes: &mut dyn SpikeOutput,
        counter: &mut dyn CycleCounter,
    ) -> Result<(), ErrorReply> {
        self.inner.stream_push(input, out, spikes, counter)
    }
}
