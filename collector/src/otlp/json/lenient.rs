//! The lenient serde machinery the OTLP/JSON decoders are built of: a [`Message`] read field
//! by field from a JSON object (keys in any spelling, unknown ones skipped), nesting counted
//! and bounded, and seeds for each kind of scalar (strings, 64-bit integers as numbers or
//! strings, enums as numbers or names, hex ids, base64 bytes), each taking `null` as the
//! default.

use std::fmt;
use std::marker::PhantomData;

use base64::Engine as _;
use base64::alphabet;
use base64::engine::DecodePaddingMode;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use serde::de::{
    self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Unexpected, Visitor,
};

use crate::model::hex;

/// A protobuf message decoded field by field from a JSON object.
pub(super) trait Message: Default {
    /// The fields this decoder knows; keys it does not know are skipped.
    type Field: Copy;
    /// What the message is, for "expected ..." in errors.
    const EXPECTING: &'static str;
    /// The field a key names (lowerCamelCase, snake_case or legacy spelling), if known.
    fn field(key: &str) -> Option<Self::Field>;
    /// Reads the value of `field` from `map` into `self`.
    fn set<'de, A: MapAccess<'de>>(
        &mut self,
        field: Self::Field,
        map: &mut A,
    ) -> Result<(), A::Error>;
}

/// Declares a message's field enum and its key lookup.
macro_rules! fields {
    ($name:ident { $($variant:ident => $($key:literal)|+),+ $(,)? }) => {
        #[derive(Clone, Copy)]
        pub(super) enum $name {
            $($variant),+
        }

        impl $name {
            fn from_key(key: &str) -> Option<Self> {
                match key {
                    $($($key)|+ => Some(Self::$variant),)+
                    _ => None,
                }
            }
        }
    };
}
pub(super) use fields;

/// Reads an object key and maps it to a field of `M` (`None`: unknown, skip the value).
struct KeySeed<M>(PhantomData<M>);

impl<'de, M: Message> DeserializeSeed<'de> for KeySeed<M> {
    type Value = Option<M::Field>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_identifier(self)
    }
}

impl<M: Message> Visitor<'_> for KeySeed<M> {
    type Value = Option<M::Field>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, key: &str) -> Result<Self::Value, E> {
        Ok(M::field(key))
    }
}

/// Reads one message: an object, or `null` (`None`, i.e. absent) where allowed.
pub(super) struct MessageSeed<M> {
    null_allowed: bool,
    marker: PhantomData<M>,
}

impl<M> MessageSeed<M> {
    pub(super) fn field() -> Self {
        Self { null_allowed: true, marker: PhantomData }
    }

    pub(super) fn top_level() -> Self {
        Self { null_allowed: false, marker: PhantomData }
    }
}

impl<'de, M: Message> DeserializeSeed<'de> for MessageSeed<M> {
    type Value = Option<M>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, M: Message> Visitor<'de> for MessageSeed<M> {
    type Value = Option<M>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(M::EXPECTING)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        if self.null_allowed { Ok(None) } else { Err(E::invalid_type(Unexpected::Unit, &self)) }
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let _nesting = Nesting::enter::<A::Error>()?;
        let mut msg = M::default();
        while let Some(field) = map.next_key_seed(KeySeed::<M>(PhantomData))? {
            match field {
                Some(field) => msg.set(field, &mut map)?,
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(Some(msg))
    }
}

/// How deep messages may nest in a document (the top-level message is 1). prost refuses
/// protobuf nested past 100 messages; this is a little more, so that everything accepted
/// over protobuf (and so recorded as OTLP/JSON) reads back, and bounded, so that the
/// recursive descent stays well within a thread's stack.
pub const MAX_NESTING: u32 = 128;

thread_local! {
    /// Messages being decoded on this thread, outermost to innermost.
    pub(super) static NESTING: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// One level of message nesting, held while a message is decoded.
struct Nesting;

impl Nesting {
    fn enter<E: de::Error>() -> Result<Self, E> {
        NESTING.with(|n| {
            let depth = n.get() + 1;
            if depth > MAX_NESTING {
                return Err(E::custom(format_args!(
                    "messages nested more than {MAX_NESTING} deep"
                )));
            }
            n.set(depth);
            Ok(Nesting)
        })
    }
}

impl Drop for Nesting {
    fn drop(&mut self) {
        NESTING.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// Appends the elements of a JSON array of messages to a `Vec` (`null` adds nothing; a
/// `null` element is a default message).
pub(super) struct Repeated<'a, M>(pub(super) &'a mut Vec<M>);

impl<'de, M: Message> DeserializeSeed<'de> for Repeated<'_, M> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de, M: Message> Visitor<'de> for Repeated<'_, M> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(
            f,
            "an array of {}s",
            M::EXPECTING.trim_start_matches("an ").trim_start_matches("a ")
        )
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(msg) = seq.next_element_seed(MessageSeed::<M>::field())? {
            self.0.push(msg.unwrap_or_default());
        }
        Ok(())
    }
}

/// Reads a value that may be `null` (`None`) with the inner seed otherwise. For oneof
/// members, where `null` means "not this member".
pub(super) struct Nullable<S>(pub(super) S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_option(self)
    }
}

impl<'de, S: DeserializeSeed<'de>> Visitor<'de> for Nullable<S> {
    type Value = Option<S::Value>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a value or null")
    }

    fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(None)
    }

    fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        self.0.deserialize(d).map(Some)
    }
}

/// Declares a scalar seed: a unit-like struct carrying the field's JSON name for errors.
macro_rules! scalar_seed {
    ($name:ident -> $value:ty, $what:literal) => {
        #[derive(Clone, Copy)]
        pub(super) struct $name(pub(super) &'static str);

        impl<'de> DeserializeSeed<'de> for $name {
            type Value = $value;

            fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<$value, D::Error> {
                d.deserialize_any(self)
            }
        }

        impl $name {
            fn describe(self, f: &mut fmt::Formatter) -> fmt::Result {
                write!(f, "`{}` as {}", self.0, $what)
            }
        }
    };
}

scalar_seed!(StrSeed -> String, "a string");
scalar_seed!(BoolSeed -> bool, "a boolean");
scalar_seed!(U64Seed -> u64, "an unsigned 64-bit integer (number or decimal string)");
scalar_seed!(I64Seed -> i64, "a signed 64-bit integer (number or decimal string)");
scalar_seed!(U32Seed -> u32, "an unsigned 32-bit integer");
scalar_seed!(I32Seed -> i32, "a signed 32-bit integer");
scalar_seed!(F64Seed -> f64, "a number (or \"NaN\", \"Infinity\", \"-Infinity\")");
scalar_seed!(HexIdSeed -> Vec<u8>, "a hex string");
scalar_seed!(Base64Seed -> Vec<u8>, "a base64 string");

impl Visitor<'_> for StrSeed {
    type Value = String;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<String, E> {
        Ok(v.to_owned())
    }

    fn visit_string<E: de::Error>(self, v: String) -> Result<String, E> {
        Ok(v)
    }

    fn visit_unit<E: de::Error>(self) -> Result<String, E> {
        Ok(String::new())
    }
}

impl Visitor<'_> for BoolSeed {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
        Ok(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
        match v {
            "true" => Ok(true),
            "false" => Ok(false),
            _ => Err(E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
        Ok(false)
    }
}

/// An integral float (JavaScript exporters may print big integers as `1.7e18`), if exact.
fn integral(v: f64) -> Option<f64> {
    (v.is_finite() && v.fract() == 0.0).then_some(v)
}

/// Parses an integer written in a JSON string: decimal, or an integral float form (`"1e3"`).
fn parse_int_str<T: std::str::FromStr + TryFrom<i128>>(v: &str) -> Option<T> {
    if let Ok(n) = v.parse::<T>() {
        return Some(n);
    }
    let f = integral(v.parse::<f64>().ok()?)?;
    if f.abs() > 1.8e19 {
        return None;
    }
    T::try_from(f as i128).ok()
}

/// Implements the visitor of an integer seed: numbers, integral floats, decimal strings,
/// `null` (zero), each range-checked.
macro_rules! int_visitor {
    ($seed:ident -> $t:ty) => {
        impl Visitor<'_> for $seed {
            type Value = $t;

            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                self.describe(f)
            }

            fn visit_u64<E: de::Error>(self, v: u64) -> Result<$t, E> {
                <$t>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Unsigned(v), &self))
            }

            fn visit_i64<E: de::Error>(self, v: i64) -> Result<$t, E> {
                <$t>::try_from(v).map_err(|_| E::invalid_value(Unexpected::Signed(v), &self))
            }

            fn visit_f64<E: de::Error>(self, v: f64) -> Result<$t, E> {
                integral(v)
                    .filter(|f| f.abs() <= 1.8e19)
                    .and_then(|f| <$t>::try_from(f as i128).ok())
                    .ok_or_else(|| E::invalid_value(Unexpected::Float(v), &self))
            }

            fn visit_str<E: de::Error>(self, v: &str) -> Result<$t, E> {
                parse_int_str::<$t>(v).ok_or_else(|| E::invalid_value(Unexpected::Str(v), &self))
            }

            fn visit_unit<E: de::Error>(self) -> Result<$t, E> {
                Ok(0)
            }
        }
    };
}

int_visitor!(U64Seed -> u64);
int_visitor!(I64Seed -> i64);
int_visitor!(U32Seed -> u32);
int_visitor!(I32Seed -> i32);

impl Visitor<'_> for F64Seed {
    type Value = f64;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<f64, E> {
        Ok(v)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<f64, E> {
        Ok(v as f64)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<f64, E> {
        match v {
            "NaN" => Ok(f64::NAN),
            "Infinity" => Ok(f64::INFINITY),
            "-Infinity" => Ok(f64::NEG_INFINITY),
            _ => v.parse::<f64>().map_err(|_| E::invalid_value(Unexpected::Str(v), &self)),
        }
    }

    fn visit_unit<E: de::Error>(self) -> Result<f64, E> {
        Ok(0.0)
    }
}

/// Decodes a hex id leniently (see [`super::decode_traces`] for the rules).
fn decode_hex_id(s: &str) -> Vec<u8> {
    if let Ok(bytes) = hex::decode(s) {
        return bytes;
    }
    // Malformed: keep the raw bytes, at an odd length so that no id validation accepts them.
    let mut out = s.as_bytes().to_vec();
    if out.len().is_multiple_of(2) {
        out.push(0);
    }
    out
}

impl Visitor<'_> for HexIdSeed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        Ok(decode_hex_id(v))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

/// Standard alphabet, padding optional (protobuf JSON accepts both).
const BASE64_STANDARD_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// URL-safe alphabet, padding optional (protobuf JSON accepts it too).
const BASE64_URL_LENIENT: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

impl Visitor<'_> for Base64Seed {
    type Value = Vec<u8>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        self.describe(f)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Vec<u8>, E> {
        BASE64_STANDARD_LENIENT
            .decode(v)
            .or_else(|_| BASE64_URL_LENIENT.decode(v))
            .map_err(|_| E::invalid_value(Unexpected::Str(v), &self))
    }

    fn visit_unit<E: de::Error>(self) -> Result<Vec<u8>, E> {
        Ok(Vec::new())
    }
}

/// An enum field: an integer, or its proto name (unknown names are 0).
#[derive(Clone, Copy)]
pub(super) struct EnumSeed {
    pub(super) name: &'static str,
    pub(super) from_name: fn(&str) -> Option<i32>,
}

impl<'de> DeserializeSeed<'de> for EnumSeed {
    type Value = i32;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<i32, D::Error> {
        d.deserialize_any(self)
    }
}

impl Visitor<'_> for EnumSeed {
    type Value = i32;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an enum number or name", self.name)
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<i32, E> {
        I32Seed(self.name).visit_u64(v)
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<i32, E> {
        I32Seed(self.name).visit_i64(v)
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<i32, E> {
        I32Seed(self.name).visit_f64(v)
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<i32, E> {
        Ok((self.from_name)(v).or_else(|| v.parse().ok()).unwrap_or(0))
    }

    fn visit_unit<E: de::Error>(self) -> Result<i32, E> {
        Ok(0)
    }
}

/// Appends a JSON array of strings to a `Vec<String>` (`null` adds nothing).
pub(super) struct StrList<'a>(pub(super) &'a mut Vec<String>, pub(super) &'static str);

impl<'de> DeserializeSeed<'de> for StrList<'_> {
    type Value = ();

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrList<'_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "`{}` as an array of strings", self.1)
    }

    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while let Some(s) = seq.next_element_seed(StrSeed(self.1))? {
            self.0.push(s);
        }
        Ok(())
    }
}

/// Reads an optional sub-message field: `null` leaves it absent.
pub(super) fn optional<'de, M: Message, A: MapAccess<'de>>(
    map: &mut A,
) -> Result<Option<M>, A::Error> {
    map.next_value_seed(MessageSeed::<M>::field())
}
