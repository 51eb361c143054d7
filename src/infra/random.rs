//! Random tokens and codes from the operating system's generator.
use rand::distr::{Alphanumeric, SampleString};
use rand::{Rng, RngCore};

/// `bytes` random bytes as lowercase hex.
pub fn token_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rand::rng().fill_bytes(&mut buf);
    hex::encode(buf)
}

/// A URL-safe opaque token of `len` characters.
pub fn token_alnum(len: usize) -> String {
    Alphanumeric.sample_string(&mut rand::rng(), len)
}

/// An invite code a person can type: no 0/O, 1/I/L.
pub fn human_code(len: usize) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHJKMNPQRSTUVWXYZ23456789";
    let mut rng = rand::rng();
    (0..len).map(|_| ALPHABET[rng.random_range(0..ALPHABET.len())] as char).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_have_the_asked_length_and_alphabet() {
        let code = human_code(10);
        assert_eq!(code.len(), 10);
        assert!(code.chars().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit()));
        assert!(!code.contains(['0', 'O', '1', 'I', 'L']));
        assert_eq!(token_hex(16).len(), 32);
        assert_ne!(token_alnum(32), token_alnum(32));
    }
}
