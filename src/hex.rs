//! Hex, the crate's one codec: lowercase out, either case in, lengths checked.
//!
//! Digest hashes, nonces and opaques (RFC 7616 compares hex without case) and every other
//! place that turns bytes into hex text go through here.

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Writes `bytes` as lowercase hex at the start of `out`; returns the number of bytes
/// written. Only whole bytes are written: when `out` holds fewer than `2 * bytes.len()`
/// bytes, the rest of `bytes` is left out.
pub(crate) fn encode_into(bytes: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for (b, pair) in bytes.iter().zip(out.chunks_exact_mut(2)) {
        pair[0] = DIGITS[usize::from(b >> 4)];
        pair[1] = DIGITS[usize::from(b & 0x0f)];
        n += 2;
    }
    n
}

/// `bytes` as a lowercase hex `String`.
pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// Decodes hex (either case) into `out`; `None` unless `hex` is exactly `2 * out.len()` hex
/// digits (`out` is then partly written).
pub(crate) fn decode_into(hex: &[u8], out: &mut [u8]) -> Option<()> {
    if hex.len() != out.len() * 2 {
        return None;
    }
    for (pair, o) in hex.chunks_exact(2).zip(out.iter_mut()) {
        *o = (value(pair[0])? << 4) | value(pair[1])?;
    }
    Some(())
}

/// Decodes hex (either case) of any even length.
// For callers that learn the length from the input (werkzeug hashes in `password/`).
#[cfg_attr(not(any(test, feature = "password")), allow(dead_code))]
pub(crate) fn decode(hex: &[u8]) -> Option<Vec<u8>> {
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let mut out = vec![0_u8; hex.len() / 2];
    decode_into(hex, &mut out)?;
    Some(out)
}

/// Whether `hex` is only lowercase hex digits (for formats that refuse uppercase).
#[cfg_attr(not(any(test, feature = "password")), allow(dead_code))]
pub(crate) fn is_lowercase(hex: &[u8]) -> bool {
    hex.iter().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

const fn value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roundtrip() {
        let all: Vec<u8> = (0..=255).collect();
        let text = encode(&all);
        assert_eq!(text.len(), 512);
        assert!(is_lowercase(text.as_bytes()));
        assert_eq!(decode(text.as_bytes()).as_deref(), Some(&all[..]));
        assert_eq!(
            decode(text.to_ascii_uppercase().as_bytes()).as_deref(),
            Some(&all[..])
        );
        let mut buf = [0_u8; 512];
        assert_eq!(encode_into(&all, &mut buf), 512);
        assert_eq!(&buf[..], text.as_bytes());
    }

    #[test]
    fn lengths_and_digits_are_checked() {
        let mut out = [0_u8; 2];
        assert_eq!(decode_into(b"aBff", &mut out), Some(()));
        assert_eq!(out, [0xab, 0xff]);
        assert_eq!(decode_into(b"abf", &mut out), None);
        assert_eq!(decode_into(b"abffff", &mut out), None);
        assert_eq!(decode_into(b"abgf", &mut out), None);
        assert_eq!(decode(b"abc"), None);
        assert_eq!(decode(b"zz"), None);
        assert_eq!(decode(b""), Some(Vec::new()));
        assert_eq!(encode(&[0, 1, 0xfe]), "0001fe");
        assert!(!is_lowercase(b"aB"));
        assert!(!is_lowercase(b"g0"));
        // A short buffer gets whole bytes only.
        let mut short = [b'-'; 3];
        assert_eq!(encode_into(&[0xab, 0xcd], &mut short), 2);
        assert_eq!(&short, b"ab-");
    }
}
