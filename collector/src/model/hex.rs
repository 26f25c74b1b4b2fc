//! hopscope's one hex codec: bytes to lowercase hex (into a caller's buffer, onto a byte
//! vector, or as a `String`), and hex in either case back to bytes, with an error saying
//! what was wrong. Ids print through it, and every decoder that reads hex ids (OTLP/JSON,
//! Jaeger, Zipkin, `TraceId::from_hex`) parses through it, each keeping its own rules for
//! what to do with bad input.

/// The lowercase hex digits, by value.
const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Why some text is not the hex that was expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// A character that is not a hex digit (in either case).
    #[error("is not hexadecimal")]
    NotHex,
    /// Another number of digits than the bytes it decodes into need: an odd number, or
    /// too many or too few for a fixed size.
    #[error("has {digits} hex digits, expected {expected}")]
    Length { digits: usize, expected: usize },
}

/// The two lowercase hex digits of `byte`.
#[inline]
pub fn digits_of(byte: u8) -> [u8; 2] {
    [DIGITS[usize::from(byte >> 4)], DIGITS[usize::from(byte & 0x0f)]]
}

/// Writes `bytes` as lowercase hex into `out` (twice their length; a shorter `out` takes
/// the first bytes that fit) and returns that text.
#[inline]
pub fn encode_into<'a>(bytes: &[u8], out: &'a mut [u8]) -> &'a str {
    for (pair, &byte) in out.chunks_exact_mut(2).zip(bytes) {
        pair.copy_from_slice(&digits_of(byte));
    }
    std::str::from_utf8(out).unwrap_or_default()
}

/// Appends `bytes` as lowercase hex to `out`.
#[inline]
pub fn push(out: &mut Vec<u8>, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for &byte in bytes {
        out.extend_from_slice(&digits_of(byte));
    }
}

/// `bytes` as lowercase hex.
pub fn encode(bytes: &[u8]) -> String {
    let mut out = Vec::with_capacity(bytes.len() * 2);
    push(&mut out, bytes);
    String::from_utf8(out).unwrap_or_default()
}

/// The value of one hex digit, in either case.
#[inline]
pub fn digit_value(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex (either case, an even number of digits) into `out`, which must be exactly
/// half as long as `hex`.
#[inline]
pub fn decode_into(hex: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    if hex.len() != out.len() * 2 {
        return Err(HexError::Length { digits: hex.len(), expected: out.len() * 2 });
    }
    for (byte, pair) in out.iter_mut().zip(hex.chunks_exact(2)) {
        let (Some(high), Some(low)) = (digit_value(pair[0]), digit_value(pair[1])) else {
            return Err(HexError::NotHex);
        };
        *byte = high << 4 | low;
    }
    Ok(())
}

/// Decodes hex (either case, an even number of digits) into as many bytes as it holds.
#[inline]
pub fn decode(hex: &str) -> Result<Vec<u8>, HexError> {
    let hex = hex.as_bytes();
    if !hex.len().is_multiple_of(2) {
        return Err(HexError::Length { digits: hex.len(), expected: hex.len() + 1 });
    }
    let mut out = vec![0; hex.len() / 2];
    decode_into(hex, &mut out)?;
    Ok(out)
}

/// Decodes up to `2 * out.len()` hex digits (either case, any number of them) into the end
/// of `out`, left-padding with zero bytes: a number written without its leading zeros.
pub fn decode_right_aligned(hex: &[u8], out: &mut [u8]) -> Result<(), HexError> {
    if hex.len() > out.len() * 2 {
        return Err(HexError::Length { digits: hex.len(), expected: out.len() * 2 });
    }
    out.fill(0);
    // Walk from the last digit, filling bytes from the end.
    for (i, &c) in hex.iter().rev().enumerate() {
        let value = digit_value(c).ok_or(HexError::NotHex)?;
        let byte = out.len() - 1 - i / 2;
        out[byte] |= if i % 2 == 0 { value } else { value << 4 };
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_lowercase() {
        assert_eq!(encode(&[0x0a, 0xff, 0x00]), "0aff00");
        let mut buf = [0u8; 4];
        assert_eq!(encode_into(&[0xde, 0xad], &mut buf), "dead");
        let mut out = b"\"".to_vec();
        push(&mut out, &[0x5b, 0x8e]);
        assert_eq!(out, b"\"5b8e");
        assert_eq!(digits_of(0x1f), *b"1f");
    }

    #[test]
    fn decodes_either_case() {
        assert_eq!(decode("5B8eFf"), Ok(vec![0x5b, 0x8e, 0xff]));
        assert_eq!(decode(""), Ok(vec![]));
        assert_eq!(decode("abc"), Err(HexError::Length { digits: 3, expected: 4 }));
        assert_eq!(decode("zz"), Err(HexError::NotHex));
        let mut out = [0u8; 2];
        assert_eq!(decode_into(b"0A0b", &mut out), Ok(()));
        assert_eq!(out, [0x0a, 0x0b]);
        assert_eq!(decode_into(b"0a", &mut out), Err(HexError::Length { digits: 2, expected: 4 }));
    }

    #[test]
    fn right_aligned_pads_on_the_left() {
        let mut out = [0xffu8; 4];
        assert_eq!(decode_right_aligned(b"abc", &mut out), Ok(()));
        assert_eq!(out, [0, 0, 0x0a, 0xbc]);
        assert_eq!(
            decode_right_aligned(b"123456789", &mut out),
            Err(HexError::Length { digits: 9, expected: 8 })
        );
        assert_eq!(decode_right_aligned(b"x1", &mut out), Err(HexError::NotHex));
    }
}
