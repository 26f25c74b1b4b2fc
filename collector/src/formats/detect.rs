//! Telling a trace file's format from its first bytes, never from its name.
//!
//! [`sniff`] looks at the head of a stream (the first [`HEAD_LEN`] bytes, or fewer when the
//! stream is shorter) and says what it is, in this order:
//!
//! 1. gzip magic `1f 8b` → [`Sniff::Gzip`] (inflate, then sniff again);
//! 2. zstd frame magic `28 b5 2f fd` at offset 0 → [`Sniff::Zstd`]: the whole file is one zstd
//!    stream (`zstd traces.jsonl`); decompress, then sniff again;
//! 3. zstd magic at offset 4 → [`Format::OtlpZstdFramed`]: the OpenTelemetry Collector file
//!    exporter's `compression: zstd` form, each message compressed and then prefixed with its
//!    4-byte big-endian length;
//! 4. after an optional UTF-8 BOM and whitespace, `[` → [`Format::Zipkin`] (a Zipkin v2 array
//!    of spans, or an array of such arrays);
//! 5. `{` → the first key of the object decides: `data` → [`Format::Jaeger`] (the Jaeger UI's
//!    "Download JSON"); `traceID`, `spans` or `processes` → [`Format::Jaeger`] too (a single
//!    Jaeger trace object); anything else is OTLP JSON, either [`Format::OtlpJsonLines`] or
//!    [`Format::OtlpJsonDocument`] (see [`json_layout`]);
//! 6. a 4-byte big-endian length followed by `0a` (field 1, `resource_spans`, length-delimited:
//!    the first byte of every non-empty `TracesData`), or a zero length →
//!    [`Format::OtlpProto`], the file exporter's `format: proto`;
//! 7. only whitespace → [`Sniff::Empty`]; anything else → [`Sniff::Unknown`].

use std::fmt;

/// Bytes looked at to tell a format.
pub(crate) const HEAD_LEN: usize = 64 * 1024;

/// Largest length prefix believed; a larger one means the stream is not (or no longer)
/// length-prefixed messages.
pub(crate) const MAX_MESSAGE: u32 = 512 * 1024 * 1024;

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
pub(crate) const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The layout of the records in a (decompressed) trace file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// One OTLP/JSON `TracesData` (or `ExportTraceServiceRequest`) per line: the
    /// OpenTelemetry Collector file exporter's default, and hopscope's `--record`.
    OtlpJsonLines,
    /// One OTLP/JSON document spread over many lines (pretty-printed), or several such
    /// documents one after another.
    OtlpJsonDocument,
    /// OTLP protobuf `TracesData` messages, each preceded by its 4-byte big-endian length.
    OtlpProto,
    /// The file exporter's zstd form: each message (protobuf or JSON) zstd-compressed, then
    /// preceded by the 4-byte big-endian length of the compressed bytes.
    OtlpZstdFramed,
    /// Jaeger's JSON: `{"data":[trace, ...]}` as the Jaeger UI downloads it, or one trace.
    Jaeger,
    /// Zipkin v2 JSON: an array of spans, or an array of traces (arrays of spans).
    Zipkin,
}

impl Format {
    /// A short human name.
    pub fn name(self) -> &'static str {
        match self {
            Format::OtlpJsonLines => "OTLP JSON lines",
            Format::OtlpJsonDocument => "OTLP JSON document",
            Format::OtlpProto => "OTLP protobuf (length-prefixed)",
            Format::OtlpZstdFramed => "OTLP zstd messages (length-prefixed)",
            Format::Jaeger => "Jaeger JSON",
            Format::Zipkin => "Zipkin v2 JSON",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A compression wrapped around a whole file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Compression {
    Gzip,
    Zstd,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// What the head of a stream says it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// A whole-stream compression: decompress and sniff again.
    Compressed(Compression),
    /// Records of this format.
    Format(Format),
    /// Nothing but whitespace.
    Empty,
    /// Not a format this reader knows.
    Unknown,
}

/// Tells the format of a stream from its head (its first [`HEAD_LEN`] bytes, or all of it).
pub(crate) fn sniff(head: &[u8]) -> Sniff {
    if head.starts_with(&GZIP_MAGIC) {
        return Sniff::Compressed(Compression::Gzip);
    }
    if head.starts_with(&ZSTD_MAGIC) {
        return Sniff::Compressed(Compression::Zstd);
    }
    if head.len() >= 8 && head[4..8] == ZSTD_MAGIC && length_prefix(head) <= MAX_MESSAGE {
        return Sniff::Format(Format::OtlpZstdFramed);
    }
    let text = head.strip_prefix(BOM).unwrap_or(head);
    let start = text.iter().position(|b| !b.is_ascii_whitespace());
    match start.map(|i| (i, text[i])) {
        None => Sniff::Empty,
        Some((i, b'[')) if looks_like_text(&text[i..]) => Sniff::Format(Format::Zipkin),
        Some((i, b'{')) if looks_like_text(&text[i..]) => {
            let body = &text[i..];
            match first_key(body) {
                Some(b"data" | b"traceID" | b"spans" | b"processes") => {
                    Sniff::Format(Format::Jaeger)
                }
                _ => Sniff::Format(json_layout(body)),
            }
        }
        _ if is_length_prefixed_proto(head) => Sniff::Format(Format::OtlpProto),
        _ => Sniff::Unknown,
    }
}

/// The 4-byte big-endian length at the start of `bytes` (which holds at least 4 bytes).
fn length_prefix(bytes: &[u8]) -> u32 {
    u32::from_be_bytes([bytes[0], bytes[1], bytes[2], bytes[3]])
}

fn is_length_prefixed_proto(head: &[u8]) -> bool {
    if head.len() < 4 {
        return false;
    }
    let len = length_prefix(head);
    len <= MAX_MESSAGE && (len == 0 || head.get(4) == Some(&0x0a))
}

/// Whether a JSON-looking start is text rather than a binary file that happens to begin with
/// `{` or `[`: no control bytes other than whitespace in the first bytes.
fn looks_like_text(body: &[u8]) -> bool {
    body.iter().take(256).all(|&b| b >= 0x20 || matches!(b, b'\n' | b'\r' | b'\t'))
}

/// The first key of the JSON object starting at `body[0] == b'{'`, if it is in the head and
/// has no escapes.
fn first_key(body: &[u8]) -> Option<&[u8]> {
    let rest = &body[1..];
    let open = rest.iter().position(|b| !b.is_ascii_whitespace())?;
    if rest[open] != b'"' {
        return None;
    }
    let key = &rest[open + 1..];
    let close = key.iter().position(|&b| b == b'"' || b == b'\\')?;
    (key[close] == b'"').then_some(&key[..close])
}

/// JSON lines or one document spread over lines, for an OTLP/JSON object starting at
/// `body[0] == b'{'`:
///
/// - the first object closes before the first line break → lines (a record per line);
/// - no line break in the head at all → lines (one long first record);
/// - the first line holds only `{` → a document (pretty-printed);
/// - the first line leaves the object open and the next non-blank line starts a new object
///   at its first column → lines (the first record is corrupt; it is reported, the rest read);
/// - otherwise → a document.
pub(crate) fn json_layout(body: &[u8]) -> Format {
    let mut depth = 0usize;
    let mut in_string = false;
    let mut escaped = false;
    for (i, &b) in body.iter().enumerate() {
        if in_string {
            match b {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                b'\n' => return Format::OtlpJsonLines,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' | b'[' => depth += 1,
            b'}' | b']' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return Format::OtlpJsonLines;
                }
            }
            b'\n' => {
                if body[1..i].iter().all(u8::is_ascii_whitespace) {
                    return Format::OtlpJsonDocument;
                }
                let next = body[i + 1..].iter().position(|b| !b.is_ascii_whitespace());
                let next_line_starts_object = next.is_some_and(|n| {
                    body[i + 1 + n] == b'{'
                        && body[i + 1..i + 1 + n].last().is_none_or(|&c| c == b'\n')
                });
                return if next_line_starts_object {
                    Format::OtlpJsonLines
                } else {
                    Format::OtlpJsonDocument
                };
            }
            _ => {}
        }
    }
    // The head ended inside the first line: one long record.
    Format::OtlpJsonLines
}

#[cfg(test)]
mod tests {
    use super::*;

    fn format(bytes: &[u8]) -> Sniff {
        sniff(bytes)
    }

    #[test]
    fn compressions_by_magic() {
        assert_eq!(format(b"\x1f\x8b\x08\x00"), Sniff::Compressed(Compression::Gzip));
        assert_eq!(format(b"\x28\xb5\x2f\xfd\x00"), Sniff::Compressed(Compression::Zstd));
        assert_eq!(
            format(b"\x00\x00\x00\x10\x28\xb5\x2f\xfd\x00"),
            Sniff::Format(Format::OtlpZstdFramed)
        );
    }

    #[test]
    fn json_flavours() {
        let line = br#"{"resourceSpans":[{"scopeSpans":[]}]}
{"resourceSpans":[]}
"#;
        assert_eq!(format(line), Sniff::Format(Format::OtlpJsonLines));
        assert_eq!(
            format(b"\xEF\xBB\xBF  {\"resourceSpans\":[]}"),
            Sniff::Format(Format::OtlpJsonLines)
        );
        let pretty = b"{\n  \"resourceSpans\": [\n    {\n";
        assert_eq!(format(pretty), Sniff::Format(Format::OtlpJsonDocument));
        let open_first_line = b"{\"resourceSpans\": [\n  {\"resource\": {}}\n]}\n";
        assert_eq!(format(open_first_line), Sniff::Format(Format::OtlpJsonDocument));
        let corrupt_first = b"{\"resourceSpans\": [oops\n{\"resourceSpans\":[]}\n";
        assert_eq!(format(corrupt_first), Sniff::Format(Format::OtlpJsonLines));
        assert_eq!(format(b"{\"data\":[{\"traceID\":"), Sniff::Format(Format::Jaeger));
        assert_eq!(format(b"{\n  \"traceID\": \"ab\""), Sniff::Format(Format::Jaeger));
        assert_eq!(format(b"  [{\"traceId\":\"ab\"}]"), Sniff::Format(Format::Zipkin));
        // A brace inside a string does not close the object.
        assert_eq!(format(b"{\"a\":\"}\",\n\"b\":1}\n"), Sniff::Format(Format::OtlpJsonDocument));
    }

    #[test]
    fn proto_empty_and_unknown() {
        assert_eq!(
            format(b"\x00\x00\x00\x05\x0a\x03\x0a\x01\x00"),
            Sniff::Format(Format::OtlpProto)
        );
        assert_eq!(format(b"\x00\x00\x00\x00"), Sniff::Format(Format::OtlpProto));
        assert_eq!(format(b""), Sniff::Empty);
        assert_eq!(format(b" \n\t\r\n"), Sniff::Empty);
        assert_eq!(format(b"\xEF\xBB\xBF"), Sniff::Empty);
        assert_eq!(format(b"hello world"), Sniff::Unknown);
        assert_eq!(format(b"\xff\xff\xff\xff\x0a"), Sniff::Unknown);
    }
}
