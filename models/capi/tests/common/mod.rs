//! Set-up shared by the C API tests: a model and an engine opened through the C entry points.
// Each test binary compiles this module and uses what it needs.
#![allow(dead_code)]
use snn_capi::*;
use std::mem::MaybeUninit;

/// A model and an engine opened through the C API, in the RAM the model's requirements ask
/// for; boxed, so the pointers the engine keeps stay where they are when this moves.
pub struct Opened {
    model: Box<MaybeUninit<SnnModel>>,
    engine: Box<MaybeUninit<SnnEngine>>,
    _ram: Vec<u32>,
    /// What `snn_model_requirements` reported.
    pub req: SnnRequirements,
}

impl Opened {
    /// Opens the model file `bytes` (which must outlive the result) and an engine over it with
    /// `snn_model_open`, `snn_model_requirements` and `snn_engine_open`, each required to
    /// succeed.
    pub fn open(bytes: &[u8]) -> Self {
        let mut model = Box::new(MaybeUninit::<SnnModel>::zeroed());
        let mut engine = Box::new(MaybeUninit::<SnnEngine>::zeroed());
        let (m, e) = (model.as_mut_ptr(), engine.as_mut_ptr());
        let mut req = MaybeUninit::<SnnRequirements>::zeroed();
        unsafe {
            assert_eq!(
                snn_model_open(m, bytes.as_ptr(), bytes.len()),
                SnnStatus::SnnOk
            );
            assert_eq!(
                snn_model_requirements(m, req.as_mut_ptr()),
                SnnStatus::SnnOk
            );
        }
        let req = unsafe { req.assume_init() };
        let mut ram = vec![0u32; req.ram_bytes.div_ceil(4)];
        unsafe {
            assert_eq!(
                snn_engine_open(e, m, ram.as_mut_ptr().cast(), req.ram_bytes),
                SnnStatus::SnnOk
            );
        }
        Self {
            model,
            engine,
            _ram: ram,
            req,
        }
    }

    /// The engine, for the C entry points.
    pub fn engine(&mut self) -> *mut SnnEngine {
        self.engine.as_mut_ptr()
    }

    /// The model, for the C entry points.
    pub fn model(&self) -> *const SnnModel {
        self.model.as_ptr()
    }
}
