//! Length-prefixed OTLP messages, as the OpenTelemetry Collector file exporter writes them:
//! each message preceded by its length as a 4-byte big-endian unsigned integer.
//!
//! - `format: proto`: each message a protobuf `TracesData`;
//! - `compression: zstd` (with either format): each message zstd-compressed first, the prefix
//!   giving the compressed length; the decompressed message is protobuf, or JSON when it starts
//!   with `{`.
//!
//! Read a message at a time; protobuf messages are decoded straight into the model by
//! `otlp::wire`. A message that does not decode is reported at the offset of its
//! prefix and skipped; the next prefix is still where the length said. A truncated last
//! message is reported and everything before it kept. A prefix larger than
//! [`MAX_MESSAGE`] means the framing is lost: reported, and the rest of the file skipped.

use std::io::{self, Read};

use super::detect::MAX_MESSAGE;
use super::sink::{At, Sink};
use crate::otlp::json;

/// Bytes reserved up front for a message; larger ones grow as they are read, so a corrupt
/// length never allocates more than the file holds.
const RESERVE: usize = 16 << 20;

/// Reads length-prefixed messages; `zstd` when each message is zstd-compressed.
pub(crate) fn read_messages(mut input: impl Read, sink: &mut Sink<'_>, zstd: bool) {
    let mut message = Vec::new();
    let mut inflated = Vec::new();
    let mut offset = 0u64;
    loop {
        let mut prefix = [0u8; 4];
        match read_full(&mut input, &mut prefix) {
            Ok(0) => return,
            Ok(4) => {}
            Ok(n) => {
                sink.skip(At::Offset(offset), format_args!("truncated: {n} of 4 length bytes"));
                return;
            }
            Err(e) => {
                sink.skip(At::Offset(offset), format_args!("cannot read: {e}"));
                return;
            }
        }
        let len = u32::from_be_bytes(prefix);
        if len > MAX_MESSAGE {
            sink.skip(
                At::Offset(offset),
                format_args!(
                    "length prefix {len} is over {MAX_MESSAGE}: not a message boundary; the rest \
                     of the file is skipped"
                ),
            );
            return;
        }
        message.clear();
        message.reserve((len as usize).min(RESERVE));
        match input.by_ref().take(u64::from(len)).read_to_end(&mut message) {
            Ok(got) if got == len as usize => {}
            Ok(got) => {
                sink.skip(
                    At::Offset(offset),
                    format_args!("truncated: message of {len} bytes has only {got}"),
                );
                return;
            }
            Err(e) => {
                sink.skip(At::Offset(offset), format_args!("cannot read: {e}"));
                return;
            }
        }
        let payload = if zstd {
            inflated.clear();
            // A message inflates to at most MAX_MESSAGE bytes, as a plain one is: a small
            // bomb is skipped, not held.
            let inflate = zstd::stream::read::Decoder::new(&message[..])
                .and_then(|d| d.take(u64::from(MAX_MESSAGE) + 1).read_to_end(&mut inflated));
            if let Err(e) = inflate {
                sink.skip(At::Offset(offset), format_args!("zstd: {e}"));
                offset += 4 + u64::from(len);
                continue;
            }
            if inflated.len() > MAX_MESSAGE as usize {
                sink.skip(
                    At::Offset(offset),
                    format_args!("zstd: the message inflates past {MAX_MESSAGE} bytes"),
                );
                offset += 4 + u64::from(len);
                continue;
            }
            &inflated
        } else {
            &message
        };
        let at = At::Offset(offset);
        offset += 4 + u64::from(len);
        // A protobuf `TracesData` starts with 0x0a (field 1); JSON from the exporter with `{`.
        if payload.first() == Some(&b'{') {
            match json::decode_traces(payload) {
                Ok(req) => sink.resource_spans(at, 1, req.resource_spans),
                Err(e) => sink.skip(at, format_args!("OTLP/JSON message: {e}")),
            }
        } else {
            sink.traces_proto(at, payload);
        }
    }
}

/// Fills `buf` unless the input ends first; returns the bytes read.
fn read_full(input: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match input.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}
