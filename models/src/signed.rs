//! Signed model files: `model file ++ signature (64 bytes) ++ "SNSG"`.
//!
//! The Ed25519 signature covers every byte of the model file before it (magic to CRC
//! inclusive), so nothing of the model can change without the signature failing. An unsigned
//! file is a plain model file; [`split`] tells them apart by the trailing magic. (A plain file
//! whose CRC bytes happen to read `SNSG`, one in 2^32, is taken for a signed one and then
//! refused as a bad model or signature: never run unchecked.) Verification (feature
//! `signature`) uses the `no_std` `ed25519-compact` crate; signing needs `std`.

/// Trailer magic after the signature.
pub const SIG_MAGIC: [u8; 4] = *b"SNSG";
/// Bytes of an Ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// Bytes of an Ed25519 public key.
pub const PUBLIC_KEY_LEN: usize = 32;
/// Bytes the signature adds to a model file: signature plus magic.
pub const TRAILER_LEN: usize = SIGNATURE_LEN + SIG_MAGIC.len();

/// The model file and, if the file is signed, its signature.
pub fn split(file: &[u8]) -> (&[u8], Option<&[u8; SIGNATURE_LEN]>) {
    let n = file.len();
    if n < TRAILER_LEN || file[n - SIG_MAGIC.len()..] != SIG_MAGIC {
        return (file, None);
    }
    let (model, trailer) = file.split_at(n - TRAILER_LEN);
    match trailer[..SIGNATURE_LEN].try_into() {
        Ok(sig) => (model, Some(sig)),
        Err(_) => (file, None),
    }
}

/// Why a model's signature was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SignatureError {
    /// The file carries no signature, and one is required.
    Unsigned,
    /// The signature does not verify with the key (wrong key, or the file was changed).
    Mismatch,
    /// The public key is not a valid Ed25519 point.
    BadKey,
}

impl core::fmt::Display for SignatureError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            Self::Unsigned => "model is not signed, and this device requires a signature",
            Self::Mismatch => "model signature does not verify with this device's public key",
            Self::BadKey => "the device's public key is not a valid Ed25519 key",
        })
    }
}

#[cfg(feature = "std")]
impl std::error::Error for SignatureError {}

/// Checks that `file` is signed by `public_key`; returns the model file inside.
#[cfg(feature = "signature")]
pub fn verify<'a>(
    file: &'a [u8],
    public_key: &[u8; PUBLIC_KEY_LEN],
) -> Result<&'a [u8], SignatureError> {
    let (model, sig) = split(file);
    let sig = sig.ok_or(SignatureError::Unsigned)?;
    let pk =
        ed25519_compact::PublicKey::from_slice(public_key).map_err(|_| SignatureError::BadKey)?;
    let sig = ed25519_compact::Signature::from_slice(sig).map_err(|_| SignatureError::Mismatch)?;
    pk.verify(model, &sig)
        .map_err(|_| SignatureError::Mismatch)?;
    Ok(model)
}

/// A signing key pair from a 32-byte secret seed: `(secret key file bytes = seed, public key)`.
#[cfg(all(feature = "signature", feature = "std"))]
pub fn public_key(seed: &[u8; 32]) -> [u8; PUBLIC_KEY_LEN] {
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
    *kp.pk
}

/// `model` (a plain model file) signed with the key of `seed`: `model ++ signature ++ "SNSG"`.
#[cfg(all(feature = "signature", feature = "std"))]
pub fn sign(model: &[u8], seed: &[u8; 32]) -> std::vec::Vec<u8> {
    let kp = ed25519_compact::KeyPair::from_seed(ed25519_compact::Seed::new(*seed));
    let sig = kp.sk.sign(model, None);
    let mut out = std::vec::Vec::with_capacity(model.len() + TRAILER_LEN);
    out.extend_from_slice(model);
    out.extend_from_slice(&sig[..]);
    out.extend_from_slice(&SIG_MAGIC);
    out
}

#[cfg(all(test, feature = "signature", feature = "std"))]
mod tests {
    use super::*;

    #[test]
    fn signs_verifies_and_refuses_each_way() {
        let model = b"SNNM\x01\x00 any bytes stand for a model here".to_vec();
        let seed = [7u8; 32];
        let pk = public_key(&seed);
        let signed = sign(&model, &seed);
        assert_eq!(
            split(&signed),
            (
                &model[..],
                Some(signed[model.len()..][..64].try_into().unwrap())
            )
        );
        assert_eq!(verify(&signed, &pk), Ok(&model[..]));
        assert_eq!(verify(&model, &pk), Err(SignatureError::Unsigned));
        let other = public_key(&[8u8; 32]);
        assert_eq!(verify(&signed, &other), Err(SignatureError::Mismatch));
        for i in [0, 10, model.len() - 1, model.len() + 5] {
            let mut bad = signed.clone();
            bad[i] ^= 1;
            assert_eq!(verify(&bad, &pk), Err(SignatureError::Mismatch), "byte {i}");
        }
    }
}
