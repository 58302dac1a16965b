//! Feature `dense-bench`: at boot, before serving the link, runs the built-in dense int8 model
//! (`SNN_FW_DENSE`) over the built-in samples (`SNN_FW_DENSE_SAMPLES`: `inputs` bytes each) and
//! logs, per sample, `dense <index> <predicted> <cost> <logits>` with the cost counter's reading
//! around the one `snn_models::dense::infer` call (instructions under `-icount shift=0`), then
//! `dense done <samples>`. `cargo xtask bench-dense` compares every line with the host
//! reference. No new link messages: the results travel in the defmt log.
use snn_hal::CycleCounter;
use snn_models::dense::{decode_dense, infer, DenseBuffers};
use static_cell::ConstStaticCell;

/// The dense model built in (`SNN_FW_DENSE`, see build.rs).
static DENSE: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/builtin_dense.bin"));
/// The samples built in (`SNN_FW_DENSE_SAMPLES`), `inputs` feature bytes each.
static SAMPLES: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/dense_samples.bin"));

/// Widest dense layer this build runs.
const WIDTH: usize = 512;
/// Most logits.
const OUTPUTS: usize = 64;

static A: ConstStaticCell<[i8; WIDTH]> = ConstStaticCell::new([0; WIDTH]);
static B: ConstStaticCell<[i8; WIDTH]> = ConstStaticCell::new([0; WIDTH]);
static PACKED: ConstStaticCell<[u32; DenseBuffers::packed_len(WIDTH)]> =
    ConstStaticCell::new([0; DenseBuffers::packed_len(WIDTH)]);

/// Runs and logs every built-in sample (called once, from `main`).
pub fn run(counter: &mut impl CycleCounter) {
    let model = match decode_dense(DENSE) {
        Ok(m) => m,
        Err(e) => {
            defmt::error!("dense model refused: {}", defmt::Display2Format(&e));
            return;
        }
    };
    let inputs = model.inputs();
    defmt::info!(
        "dense model: {} layers, {} inputs, {} outputs, {} MACs, {} bytes",
        model.layers.len(),
        inputs,
        model.outputs(),
        model.macs(),
        DENSE.len()
    );
    let mut bufs = DenseBuffers {
        a: A.take(),
        b: B.take(),
        packed: PACKED.take(),
    };
    let mut logits = [0i32; OUTPUTS];
    let mut n = 0u32;
    for (i, features) in SAMPLES.chunks_exact(inputs.max(1)).enumerate() {
        let start = counter.now();
        let result = infer(&model, features, &mut bufs, &mut logits);
        let cost = counter.now().wrapping_sub(start);
        match result {
            Ok(p) => defmt::info!(
                "dense {=u32} {=u16} {=u64} {}",
                i as u32,
                p,
                cost,
                &logits[..model.outputs().min(OUTPUTS)]
            ),
            Err(e) => defmt::error!(
                "dense {=u32} failed: {}",
                i as u32,
                defmt::Display2Format(&e)
            ),
        }
        n += 1;
    }
    defmt::info!("dense done {=u32}", n);
}
