//! Optional spike output: a GPIO pulsed once per output spike, in the time step the spike happens
//! (for a scope or logic analyser).
use embedded_hal::digital::OutputPin;

/// Something that shows output spikes.
pub trait SpikeOutput {
    /// Signals one spike of output neuron `neuron`.
    fn spike(&mut self, neuron: u16);
    /// Whether spikes are shown at all; `false` lets a backend skip the per-step reporting.
    fn enabled(&self) -> bool {
        true
    }
}

/// No spike output.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoSpikeOutput;

impl SpikeOutput for NoSpikeOutput {
    fn spike(&mut self, _neuron: u16) {}
    fn enabled(&self) -> bool {
        false
    }
}

/// Pulses one pin high then low per output spike, whatever the neuron; pin errors are ignored
/// (a missing scope trace must not stop inference).
#[derive(Debug)]
pub struct PinSpikeOutput<P>(pub P);

impl<P: OutputPin> SpikeOutput for PinSpikeOutput<P> {
    fn spike(&mut self, _neuron: u16) {
        let _ = self.0.set_high();
        let _ = self.0.set_low();
    }
}
