//! Trace and span ids: fixed-size, `Copy`, printed as lowercase hex.

use std::fmt;

/// A 16-byte W3C trace id. Never all zero once accepted into the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct TraceId(pub [u8; 16]);

/// An 8-byte span id. Never all zero once accepted into the store.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct SpanId(pub [u8; 8]);

/// Why raw bytes are not a valid id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum IdError {
    /// The id does not have the length the OTLP spec requires.
    #[error("has {got} bytes, expected {expected}")]
    Length { got: usize, expected: usize },
    /// All bytes are zero, which OTLP reserves for "invalid".
    #[error("is all zeros")]
    Zero,
    /// A hex string held a character that is not a hex digit.
    #[error("is not hexadecimal")]
    NotHex,
}

macro_rules! id_impl {
    ($name:ident, $len:expr) => {
        impl $name {
            /// Number of bytes in this id.
            pub const LEN: usize = $len;

            /// Accepts exactly `LEN` bytes that are not all zero.
            pub fn from_bytes(bytes: &[u8]) -> Result<Self, IdError> {
                let arr: [u8; $len] = bytes
                    .try_into()
                    .map_err(|_| IdError::Length { got: bytes.len(), expected: $len })?;
                if arr == [0; $len] {
                    return Err(IdError::Zero);
                }
                Ok(Self(arr))
            }

            /// Parses hex in either case; the result must be a valid (non-zero) id.
            pub fn from_hex(hex: &str) -> Result<Self, IdError> {
                let bytes = hex.as_bytes();
                if bytes.len() != $len * 2 {
                    return Err(IdError::Length { got: bytes.len() / 2, expected: $len });
                }
                let mut arr = [0u8; $len];
                for (i, pair) in bytes.chunks_exact(2).enumerate() {
                    arr[i] = (hex_val(pair[0])? << 4) | hex_val(pair[1])?;
                }
                Self::from_bytes(&arr)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                for b in self.0 {
                    write!(f, "{b:02x}")?;
                }
                Ok(())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

id_impl!(TraceId, 16);
id_impl!(SpanId, 8);

fn hex_val(c: u8) -> Result<u8, IdError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(IdError::NotHex),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_in_either_case() {
        let id = TraceId::from_hex("5B8EFFF798038103D269B633813FC60C").unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
        assert_eq!(TraceId::from_hex(&id.to_string()), Ok(id));
    }

    #[test]
    fn rejects_zero_and_bad_length() {
        assert_eq!(SpanId::from_bytes(&[0; 8]), Err(IdError::Zero));
        assert_eq!(SpanId::from_bytes(&[1; 7]), Err(IdError::Length { got: 7, expected: 8 }));
        assert_eq!(SpanId::from_hex("zz00000000000001"), Err(IdError::NotHex));
    }
}
