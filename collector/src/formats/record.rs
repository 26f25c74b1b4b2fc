//! Recordings: accepted spans written as OTLP JSON lines, one `TracesData` per line, the
//! format of the OpenTelemetry Collector's file exporter, so other tools read them too.
//!
//! # What a crash loses
//!
//! The receivers write a request's spans here before they answer it. By default the line goes
//! into a 1 MiB buffer that a flushing thread hands to the operating system every
//! [`FLUSH_EVERY`]: a process that is killed (SIGKILL, the OOM killer) loses at most the
//! spans acknowledged in the last [`CRASH_BOUND`]. With [`RecordOptions::sync`] every line is
//! handed to the operating system before the request is answered: a killed process loses no
//! acknowledged span. Neither calls `fsync`: what the OS holds survives the process, not a
//! crash of the machine.
//!
//! # Rotation
//!
//! With [`RecordOptions::max_size`], a line that would take the file past the size goes to a
//! fresh file instead: the full one is renamed next to it, `spans.jsonl` becoming
//! `spans.20261202T031500.123456Z.jsonl` (the UTC time of the rotation), names that sort in
//! time order and before the file being written (digits sort before letters), so reading the
//! directory in name order reads the recording in order. A line is never split; a file is
//! over the size only when a single line is. With [`RecordOptions::max_files`], the oldest
//! rotated files are deleted so that at most that many files, the one being written included,
//! remain. Every file is created with mode 0600.

use std::collections::VecDeque;
use std::fs::{File, OpenOptions};
use std::hash::{BuildHasher, RandomState};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use parking_lot::Mutex;
use rustc_hash::FxHashSet;

use crate::model::{Interner, Span};
use crate::otlp::convert::to_traces_data;
use crate::otlp::json::encode_traces_data;

/// How often buffered lines are handed to the operating system (by default).
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// The most an acknowledged span waits in hopscope's own buffer before the operating system
/// has it (by default): [`FLUSH_EVERY`] plus ample room for the flushing thread to be
/// scheduled and to take the lock.
pub const CRASH_BOUND: Duration = Duration::from_millis(200);

/// Buffer of the recording file.
const BUFFER: usize = 1 << 20;

/// Hashes of the last lines written, to write an exporter's retry of a request only once.
const RECENT_LINES: usize = 1024;

/// How to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordOptions {
    /// The file written (rotated files go next to it).
    pub path: PathBuf,
    /// Hand every line to the operating system before the request is answered.
    pub sync: bool,
    /// Rotate before a line would take the file past this many bytes.
    pub max_size: Option<u64>,
    /// Keep at most this many files (the one being written included), deleting the oldest
    /// rotated ones. Only with `max_size`.
    pub max_files: Option<usize>,
}

impl RecordOptions {
    /// Recording to `path`, flushed every [`FLUSH_EVERY`], never rotated.
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self { path: path.into(), sync: false, max_size: None, max_files: None }
    }
}

/// Appends batches of spans to a recording. Cheap to clone: every clone writes to the same
/// file, and the receivers write through it from many tasks at once. The flushing thread
/// stops when the last clone is dropped (which flushes what is left).
#[derive(Debug, Clone)]
pub struct Recorder {
    shared: Arc<Shared>,
}

#[derive(Debug)]
struct Shared {
    file: Mutex<RecordFile>,
    interner: Arc<Interner>,
    sync: bool,
    hasher: RandomState,
    /// The first write or flush that failed, kept for [`Recorder::finish`].
    failed: Mutex<Option<String>>,
}

#[derive(Debug)]
struct RecordFile {
    path: PathBuf,
    out: BufWriter<File>,
    /// Bytes in the current file, buffered ones included.
    written: u64,
    /// Lines buffered and not yet handed to the OS.
    pending: bool,
    max_size: Option<u64>,
    max_files: Option<usize>,
    /// Time of the last rotation (microseconds since the epoch): names stay unique and in
    /// order when rotations come faster than the clock moves.
    last_rotation: u64,
    recent: VecDeque<u64>,
    recent_set: FxHashSet<u64>,
}

/// One encoded line of spans, ready to be written.
#[derive(Debug)]
pub struct Line {
    bytes: Vec<u8>,
    hash: u64,
    spans: usize,
}

/// Creates (or truncates) `path` with mode 0600.
fn create_file(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options.open(path).map_err(|e| {
        std::io::Error::new(e.kind(), format!("cannot create recording {}: {e}", path.display()))
    })
}

impl Recorder {
    /// Creates (or truncates) the recording file, readable by its owner only, and (unless
    /// `sync`) starts the thread that flushes it.
    pub fn create(options: &RecordOptions, interner: Arc<Interner>) -> std::io::Result<Self> {
        let file = create_file(&options.path)?;
        let shared = Arc::new(Shared {
            file: Mutex::new(RecordFile {
                path: options.path.clone(),
                out: BufWriter::with_capacity(BUFFER, file),
                written: 0,
                pending: false,
                max_size: options.max_size,
                max_files: options.max_files.filter(|_| options.max_size.is_some()),
                last_rotation: 0,
                recent: VecDeque::with_capacity(RECENT_LINES),
                recent_set: FxHashSet::default(),
            }),
            interner,
            sync: options.sync,
            hasher: RandomState::new(),
            failed: Mutex::new(None),
        });
        if !options.sync {
            let weak = Arc::downgrade(&shared);
            std::thread::Builder::new()
                .name("hopscope-record".into())
                .spawn(move || flush_periodically(&weak))?;
        }
        Ok(Self { shared })
    }

    /// Where the recording goes.
    pub fn path(&self) -> PathBuf {
        self.shared.file.lock().path.clone()
    }

    /// Encodes one line holding `spans`, to [`Recorder::write`] once they are accepted;
    /// `None` for no spans.
    pub fn encode<'a>(&self, spans: impl IntoIterator<Item = &'a Span>) -> Option<Line> {
        let data = to_traces_data(spans, &self.shared.interner);
        let spans: usize =
            data.resource_spans.iter().flat_map(|r| &r.scope_spans).map(|s| s.spans.len()).sum();
        if spans == 0 {
            return None;
        }
        let mut bytes = Vec::new();
        encode_traces_data(&data, &mut bytes);
        bytes.push(b'\n');
        let hash = self.shared.hasher.hash_one(&bytes);
        Some(Line { bytes, hash, spans })
    }

    /// Writes a line (nothing for a line identical to one of the last [`RECENT_LINES`]: an
    /// exporter's retry of a request already recorded). With `sync`, the line is with the OS
    /// when this returns. Returns the spans written.
    pub fn write(&self, line: &Line) -> std::io::Result<usize> {
        let mut file = self.shared.file.lock();
        if !file.remember(line.hash) {
            return Ok(0);
        }
        let written = file
            .write_line(&line.bytes)
            .and_then(|()| if self.shared.sync { file.flush() } else { Ok(()) });
        if let Err(e) = written {
            file.forget(line.hash);
            drop(file);
            self.shared.fail(&e);
            return Err(e);
        }
        Ok(line.spans)
    }

    /// [`Recorder::encode`] and [`Recorder::write`] at once.
    pub fn write_spans<'a>(
        &self,
        spans: impl IntoIterator<Item = &'a Span>,
    ) -> std::io::Result<usize> {
        match self.encode(spans) {
            Some(line) => self.write(&line),
            None => Ok(0),
        }
    }

    /// Hands buffered lines to the OS.
    pub fn flush(&self) -> std::io::Result<()> {
        self.shared.file.lock().flush()
    }

    /// Flushes what is left; the first write or flush that failed, if any did.
    pub fn finish(&self) -> std::io::Result<()> {
        let flushed = self.flush();
        if let Some(e) = self.shared.failed.lock().clone() {
            return Err(std::io::Error::other(e));
        }
        flushed
    }
}

impl Shared {
    fn fail(&self, e: &std::io::Error) {
        self.failed.lock().get_or_insert_with(|| e.to_string());
    }
}

/// The flushing thread: every [`FLUSH_EVERY`], hands what is buffered to the OS, until the
/// recorder is dropped.
fn flush_periodically(shared: &Weak<Shared>) {
    loop {
        std::thread::sleep(FLUSH_EVERY);
        let Some(shared) = shared.upgrade() else { return };
        let flushed = {
            let mut file = shared.file.lock();
            if file.pending { file.flush() } else { Ok(()) }
        };
        if let Err(e) = flushed {
            shared.fail(&e);
        }
    }
}

impl RecordFile {
    /// Whether a line of this hash is new (and now remembered).
    fn remember(&mut self, hash: u64) -> bool {
        if !self.recent_set.insert(hash) {
            return false;
        }
        if self.recent.len() == RECENT_LINES
            && let Some(old) = self.recent.pop_front()
        {
            self.recent_set.remove(&old);
        }
        self.recent.push_back(hash);
        true
    }

    /// Forgets a line that could not be written (so that its retry is).
    fn forget(&mut self, hash: u64) {
        self.recent_set.remove(&hash);
        if let Some(i) = self.recent.iter().rposition(|&h| h == hash) {
            self.recent.remove(i);
        }
    }

    fn write_line(&mut self, line: &[u8]) -> std::io::Result<()> {
        let len = line.len() as u64;
        if let Some(max) = self.max_size
            && self.written > 0
            && self.written.saturating_add(len) > max
        {
            self.rotate()?;
        }
        self.out.write_all(line)?;
        self.written += len;
        self.pending = true;
        Ok(())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()?;
        self.pending = false;
        Ok(())
    }

    /// Renames the full file to its time-stamped name, starts a fresh one, and deletes the
    /// oldest rotated files past `max_files`.
    fn rotate(&mut self) -> std::io::Result<()> {
        self.flush()?;
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
        let micros = u64::try_from(now.as_micros()).unwrap_or(u64::MAX);
        self.last_rotation = micros.max(self.last_rotation.saturating_add(1));
        let rotated = rotated_name(&self.path, self.last_rotation);
        std::fs::rename(&self.path, &rotated).map_err(|e| {
            std::io::Error::new(
                e.kind(),
                format!(
                    "cannot rotate recording {} to {}: {e}",
                    self.path.display(),
                    rotated.display()
                ),
            )
        })?;
        self.out = BufWriter::with_capacity(BUFFER, create_file(&self.path)?);
        self.written = 0;
        if let Some(keep) = self.max_files {
            let mut old = rotated_files(&self.path)?;
            let excess = (old.len() + 1).saturating_sub(keep.max(1));
            old.sort();
            for path in old.into_iter().take(excess) {
                std::fs::remove_file(&path).map_err(|e| {
                    std::io::Error::new(
                        e.kind(),
                        format!("cannot delete old recording {}: {e}", path.display()),
                    )
                })?;
            }
        }
        Ok(())
    }
}

/// `dir/stem.extension` and the stem and extension (`.extension` only if there is one).
fn split_name(path: &Path) -> (PathBuf, String, String) {
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let ext = path.extension().map(|e| format!(".{}", e.to_string_lossy())).unwrap_or_default();
    (dir, stem, ext)
}

/// The name a recording is rotated to at `micros` (UTC): `stem.YYYYMMDDTHHMMSS.ffffffZ.ext`.
pub fn rotated_name(path: &Path, micros: u64) -> PathBuf {
    let (dir, stem, ext) = split_name(path);
    dir.join(format!("{stem}.{}{ext}", utc_stamp(micros)))
}

/// The rotated files of the recording `path` found next to it, in no order.
pub fn rotated_files(path: &Path) -> std::io::Result<Vec<PathBuf>> {
    let (dir, stem, ext) = split_name(path);
    let listed = if dir.as_os_str().is_empty() { Path::new(".") } else { dir.as_path() };
    let mut found = Vec::new();
    for entry in std::fs::read_dir(listed)? {
        let name = entry?.file_name();
        let Some(name) = name.to_str() else { continue };
        let stamp = name
            .strip_prefix(stem.as_str())
            .and_then(|r| r.strip_prefix('.'))
            .and_then(|r| r.strip_suffix(ext.as_str()));
        if stamp.is_some_and(is_utc_stamp) {
            found.push(dir.join(name));
        }
    }
    Ok(found)
}

/// `YYYYMMDDTHHMMSS.ffffffZ` of `micros` since the epoch, UTC.
fn utc_stamp(micros: u64) -> String {
    let secs = micros / 1_000_000;
    let (year, month, day) = civil_from_days(secs / 86_400);
    let rem = secs % 86_400;
    format!(
        "{year:04}{month:02}{day:02}T{:02}{:02}{:02}.{:06}Z",
        rem / 3600,
        rem / 60 % 60,
        rem % 60,
        micros % 1_000_000
    )
}

fn is_utc_stamp(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 23
        && b.iter().enumerate().all(|(i, c)| match i {
            8 => *c == b'T',
            15 => *c == b'.',
            22 => *c == b'Z',
            _ => c.is_ascii_digit(),
        })
}

/// (year, month, day) of a day count since 1970-01-01 (Howard Hinnant's `civil_from_days`).
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_are_utc_and_sort_in_time_order() {
        // 2026-12-02T03:15:00.000042Z
        let t = 1_796_181_300_000_042;
        assert_eq!(utc_stamp(t), "20261202T031500.000042Z");
        assert_eq!(utc_stamp(0), "19700101T000000.000000Z");
        assert_eq!(utc_stamp(951_782_400_000_000), "20000229T000000.000000Z");
        assert!(is_utc_stamp(&utc_stamp(t)));
        let names: Vec<_> = [t, t + 1, t + 86_400_000_000]
            .iter()
            .map(|&m| rotated_name(Path::new("d/spans.jsonl"), m))
            .collect();
        let mut sorted = names.clone();
        sorted.push(PathBuf::from("d/spans.jsonl"));
        sorted.sort();
        assert_eq!(sorted.last(), Some(&PathBuf::from("d/spans.jsonl")), "live file sorts last");
        assert_eq!(&sorted[..3], &names[..]);
        assert_eq!(names[0], PathBuf::from("d/spans.20261202T031500.000042Z.jsonl"));
    }

    #[test]
    fn only_rotated_names_are_found() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("spans.jsonl");
        for name in [
            "spans.20261202T031500.000042Z.jsonl",
            "spans.jsonl",
            "spans.2026.jsonl",
            "other.20261202T031500.000042Z.jsonl",
            "spans.20261202T031500.000042Z.json",
        ] {
            std::fs::write(dir.path().join(name), "").unwrap();
        }
        let found = rotated_files(&path).unwrap();
        assert_eq!(found, vec![dir.path().join("spans.20261202T031500.000042Z.jsonl")]);
    }
}
