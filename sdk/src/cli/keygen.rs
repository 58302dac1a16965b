//! `snn keygen [--out STEM] [--force]`: a new Ed25519 key pair for signing models
//! ([`crate::deploy::signing::keygen`]).
use std::path::PathBuf;

use clap::Args;

use super::{CliError, CliResult};
use crate::deploy::signing::{keygen, SigningError};

/// Options of `snn keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Writes STEM.secret (keep it private) and STEM.pub (for `cargo xtask build-fw --pubkey`).
    #[arg(long, short, default_value = "snn-key")]
    pub out: PathBuf,
    /// Replace an existing key pair.
    #[arg(long)]
    pub force: bool,
}

impl From<SigningError> for CliError {
    fn from(e: SigningError) -> Self {
        match e {
            SigningError::Random(_) | SigningError::Write(_) => Self::runtime(e.to_string()),
            _ => Self::input(e.to_string()),
        }
    }
}

/// Runs `snn keygen`.
pub fn run(args: KeygenArgs) -> CliResult {
    let (secret, public, pk) = keygen(&args.out, args.force)?;
    let hex: String = pk.iter().map(|b| format!("{b:02x}")).collect();
    println!(
        "wrote {} (secret: sign with `snn export --sign {}`) and {} (public key {hex}: build \
         the firmware with `cargo xtask build-fw --pubkey {}`)",
        secret.display(),
        secret.display(),
        public.display(),
        public.display()
    );
    Ok(())
}
