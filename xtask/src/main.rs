//! `cargo xtask`: build, flash, emulate, test and benchmark the workspace.
//!
//! A plain binary that shells out to cargo, rustup, qemu and probe-rs, and says exactly what to
//! install when a tool is missing.
mod setup;
mod test;

use anyhow::{bail, Result};

const HELP: &str = "\
cargo xtask <command> [options]

Commands:
  demo                 train on the bundled digits data, quantise, export, run on the emulated
                       board and print host vs board results
  test                 every test: fmt, clippy, host tests, firmware build, hardware-in-the-loop
  build-fw [--board B] [--model FILE]
                       build the firmware (boards: mps2-an386 [default], nucleo-f446re)
  run-qemu [--model FILE]
                       build the firmware and run it on the emulated MPS2-AN386 board
  flash --board B      flash a real board with probe-rs
  hil [--board qemu|probe] [--model FILE] [--samples N]
                       upload a model, stream samples, compare every output count with the host engine
  size                 flash and RAM of the firmware and of the model
  bench                host benchmarks (criterion)
  bench-fw             instructions per inference on the emulated Cortex-M4
  help                 this text
";

fn main() -> Result<()> {
    let mut args = std::env::args().skip(1);
    let Some(cmd) = args.next() else {
        print!("{HELP}");
        return Ok(());
    };
    let rest: Vec<String> = args.collect();
    match cmd.as_str() {
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(())
        }
        "test" => test::run(&rest),
        "demo" => {
            println!(
                "demo: will train the digits model, quantise and export it, run it on the emulated \
                 Cortex-M4 board and print host vs board results (lands with the demo issue)"
            );
            Ok(())
        }
        other => bail!("unknown command `{other}`; run `cargo xtask help` for the list"),
    }
}
