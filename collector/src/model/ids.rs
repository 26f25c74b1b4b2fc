//! Trace and span ids: fixed-size, `Copy`, printed (and serialized) as lowercase hex.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer, de};

use super::hex;

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
    ($name:ident, $len:expr, $what:literal) => {
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
                hex::decode_into(bytes, &mut arr).map_err(|_| IdError::NotHex)?;
                Self::from_bytes(&arr)
            }

            /// The raw bytes.
            pub fn as_bytes(&self) -> &[u8] {
                &self.0
            }

            /// The first 8 hex digits: enough to tell ids apart on screen.
            pub fn short(&self) -> String {
                let mut buf = [0u8; $len * 2];
                hex::encode_into(&self.0, &mut buf)[..8].to_owned()
            }

            /// Whether the id's hex starts with `prefix` (in either case), without
            /// formatting it.
            pub fn hex_starts_with(&self, prefix: &str) -> bool {
                let mut buf = [0u8; $len * 2];
                let hex = hex::encode_into(&self.0, &mut buf);
                hex.get(..prefix.len()).is_some_and(|h| h.eq_ignore_ascii_case(prefix))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let mut buf = [0u8; $len * 2];
                f.write_str(hex::encode_into(&self.0, &mut buf))
            }
        }

        /// Lowercase hex, as OTLP JSON and the analysis JSON write ids.
        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                let mut buf = [0u8; $len * 2];
                serializer.serialize_str(hex::encode_into(&self.0, &mut buf))
            }
        }

        /// Hex in either case; an invalid id is an error that names the id and what is wrong.
        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
                struct Hex;
                impl de::Visitor<'_> for Hex {
                    type Value = $name;
                    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                        write!(f, "{} hex digits", $len * 2)
                    }
                    fn visit_str<E: de::Error>(self, v: &str) -> Result<$name, E> {
                        $name::from_hex(v)
                            .map_err(|e| E::custom(format_args!("{} {v:?} {e}", $what)))
                    }
                }
                deserializer.deserialize_str(Hex)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({self})", stringify!($name))
            }
        }
    };
}

id_impl!(TraceId, 16, "trace id");
id_impl!(SpanId, 8, "span id");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_round_trip_in_either_case() {
        let id = TraceId::from_hex("5B8EFFF798038103D269B633813FC60C").unwrap();
        assert_eq!(id.to_string(), "5b8efff798038103d269b633813fc60c");
        assert_eq!(TraceId::from_hex(&id.to_string()), Ok(id));
        assert_eq!(id.short(), "5b8efff7");
        assert!(id.hex_starts_with("5b8E"));
        assert!(id.hex_starts_with(""));
        assert!(!id.hex_starts_with("5b9"));
        assert!(!id.hex_starts_with(&format!("{id}0")));
    }

    #[test]
    fn serializes_as_hex_and_reads_back() {
        let id = SpanId::from_hex("00F067AA0BA902B7").unwrap();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, "\"00f067aa0ba902b7\"");
        assert_eq!(serde_json::from_str::<SpanId>(&json).unwrap(), id);
        let err = serde_json::from_str::<TraceId>("\"00f067aa0ba902b7\"").unwrap_err();
        assert!(
            err.to_string().contains("trace id \"00f067aa0ba902b7\" has 8 bytes, expected 16"),
            "{err}"
        );
        let err = serde_json::from_str::<SpanId>("\"0000000000000000\"").unwrap_err();
        assert!(err.to_string().contains("span id \"0000000000000000\" is all zeros"), "{err}");
    }

    #[test]
    fn rejects_zero_and_bad_length() {
        assert_eq!(SpanId::from_bytes(&[0; 8]), Err(IdError::Zero));
        assert_eq!(SpanId::from_bytes(&[1; 7]), Err(IdError::Length { got: 7, expected: 8 }));
        assert_eq!(SpanId::from_hex("zz00000000000001"), Err(IdError::NotHex));
    }
}
