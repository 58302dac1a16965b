//! Model signing keys and signed model files (`snn keygen`, `snn export --sign`).
//!
//! A key is an Ed25519 key pair kept as two text files of 64 hex digits: `NAME.secret` (the
//! 32-byte seed; written owner-only) and `NAME.pub` (the public key, what
//! `cargo xtask build-fw --pubkey` builds into the firmware). The signed file format is
//! `snn_models::signed` (FORMAT.md §1): the model file, its signature, `"SNSG"`.
use std::path::{Path, PathBuf};
use thiserror::Error;

/// Why a key could not be made, read or used.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum SigningError {
    /// A key file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// A key file does not hold 64 hex digits.
    #[error("{path} is not a key file (expected 64 hex digits, as `snn keygen` writes)")]
    BadKey {
        /// The file.
        path: PathBuf,
    },
    /// The key files exist and overwriting was not asked for.
    #[error("{path} already exists (pass --force to replace the key pair)")]
    Exists {
        /// The existing file.
        path: PathBuf,
    },
    /// The system's random source failed.
    #[error("no randomness for the key: {0}")]
    Random(String),
    /// Writing a key file failed (the message names it).
    #[error("{0}")]
    Write(String),
    /// The model to sign is already signed.
    #[error("the model is already signed")]
    AlreadySigned,
}

/// The two files of key pair `stem`: `(stem.secret, stem.pub)`.
pub fn key_paths(stem: &Path) -> (PathBuf, PathBuf) {
    let with = |ext: &str| {
        let mut s = stem.as_os_str().to_owned();
        s.push(ext);
        PathBuf::from(s)
    };
    (with(".secret"), with(".pub"))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// 64 hex digits (surrounding whitespace ignored) as 32 bytes.
pub fn parse_hex_key(text: &str) -> Option<[u8; 32]> {
    let t = text.trim();
    if t.len() != 64 {
        return None;
    }
    let mut k = [0u8; 32];
    for (i, b) in k.iter_mut().enumerate() {
        *b = u8::from_str_radix(t.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(k)
}

fn write_key(path: &Path, text: &str, secret: bool) -> Result<(), SigningError> {
    let io = |source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    };
    crate::train::atomic::write(path, text.as_bytes())
        .map_err(|e| SigningError::Write(e.to_string()))?;
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).map_err(io)?;
    }
    #[cfg(not(unix))]
    let _ = secret;
    Ok(())
}

/// Makes a new key pair from the system's random source and writes `stem.secret` and
/// `stem.pub`; returns their paths and the public key.
pub fn keygen(stem: &Path, force: bool) -> Result<(PathBuf, PathBuf, [u8; 32]), SigningError> {
    let (secret, public) = key_paths(stem);
    if !force {
        for p in [&secret, &public] {
            if p.exists() {
                return Err(SigningError::Exists { path: p.clone() });
            }
        }
    }
    let mut seed = [0u8; 32];
    getrandom::fill(&mut seed).map_err(|e| SigningError::Random(e.to_string()))?;
    let pk = snn_models::signed::public_key(&seed);
    write_key(&secret, &format!("{}\n", hex(&seed)), true)?;
    write_key(&public, &format!("{}\n", hex(&pk)), false)?;
    Ok((secret, public, pk))
}

/// Reads a key file (`.secret` or `.pub`): 32 bytes.
pub fn read_key(path: &Path) -> Result<[u8; 32], SigningError> {
    let text = std::fs::read_to_string(path).map_err(|source| SigningError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    parse_hex_key(&text).ok_or_else(|| SigningError::BadKey {
        path: path.to_path_buf(),
    })
}

/// `model` (a plain model file) signed with the secret key in `secret_path`.
pub fn sign_model(model: &[u8], secret_path: &Path) -> Result<Vec<u8>, SigningError> {
    if snn_models::signed::split(model).1.is_some() {
        return Err(SigningError::AlreadySigned);
    }
    let seed = read_key(secret_path)?;
    Ok(snn_models::signed::sign(model, &seed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keygen_sign_and_verify_round_trip() {
        let dir = std::env::temp_dir().join(format!("snn-keygen-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let stem = dir.join("k");
        let (secret, public, pk) = keygen(&stem, false).unwrap();
        assert_eq!(read_key(&public).unwrap(), pk);
        assert!(matches!(
            keygen(&stem, false),
            Err(SigningError::Exists { .. })
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&secret).unwrap().permissions().mode();
            assert_eq!(mode & 0o077, 0, "secret key readable by others: {mode:o}");
        }
        let model = b"SNNM\x01\x00 stands for a model file".to_vec();
        let signed = sign_model(&model, &secret).unwrap();
        assert_eq!(snn_models::signed::verify(&signed, &pk), Ok(&model[..]));
        assert!(matches!(
            sign_model(&signed, &secret),
            Err(SigningError::AlreadySigned)
        ));
        std::fs::write(dir.join("bad.secret"), "xyz").unwrap();
        let e = sign_model(&model, &dir.join("bad.secret")).unwrap_err();
        assert!(e.to_string().contains("64 hex digits"), "{e}");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
