//! A decision shown on one LED as a blink code, one call per step: class `c` is `c + 1` blinks
//! (on one step, off one step), then two dark steps; no decision keeps the LED dark.
//!
//! Cycle of class `c`: `L = 2 (c + 1) + 2` steps; at phase `p` the LED is on iff `p < 2 (c + 1)`
//! and `p` is even. A new class restarts the cycle. At 10 steps/s class 2 reads as three
//! 0.1-s flashes every 0.8 s.
use embedded_hal::digital::OutputPin;

/// An LED blinking the current decision.
#[derive(Debug)]
pub struct BlinkCode<P> {
    pin: P,
    class: Option<u16>,
    phase: u32,
}

impl<P: OutputPin> BlinkCode<P> {
    /// A dark LED on `pin`.
    pub fn new(pin: P) -> Self {
        Self {
            pin,
            class: None,
            phase: 0,
        }
    }

    /// Gives the pin back.
    pub fn release(self) -> P {
        self.pin
    }

    /// Shows `class` for one step; returns whether the LED is on. Pin errors are ignored (a
    /// missing LED must not stop the stream).
    pub fn show(&mut self, class: Option<u16>) -> bool {
        if class != self.class {
            self.class = class;
            self.phase = 0;
        }
        let on = match class {
            Some(c) => {
                let blinks = 2 * (u32::from(c) + 1);
                let on = self.phase < blinks && self.phase & 1 == 0;
                self.phase = (self.phase + 1) % (blinks + 2);
                on
            }
            None => false,
        };
        let _ = if on {
            self.pin.set_high()
        } else {
            self.pin.set_low()
        };
        on
    }
}
