//! TensorBoard event files: every metrics row, the generator's learning rate
//! and a few samples as text, in `events.out.tfevents.<unix seconds>.<host>`
//! in the run directory, so `tensorboard --logdir runs/` shows each run under
//! its own name.
//!
//! Written by hand rather than with a crate: on crates.io `tensorboard-rs`
//! 0.5.9 panics on I/O errors (`expect` in its writer thread), has
//! `add_text` unimplemented and pulls protobuf 2; `tboard` 0.1.1 (one
//! release) runs `prost-build`, which needs `protoc` at build time; `tfrecord`
//! 0.15 brings prost 0.12, `num`, `itertools` and more for what is ~200 lines
//! here. The format:
//!
//! * **Records** (TFRecord framing): `u64` length (little-endian), masked
//!   CRC32C of those 8 bytes, the data, masked CRC32C of the data; mask =
//!   `((crc >> 15) | (crc << 17)) + 0xa282ead8`.
//! * **Data**: a protobuf `Event` (`wall_time` = 1, `step` = 2,
//!   `file_version` = 3, `summary` = 5); a `Summary` holds `Value`s (`tag` =
//!   1, `simple_value` = 2; text as `tensor` = 8, a `DT_STRING` `TensorProto`
//!   with `string_val`, and `metadata` = 9 naming the `text` plugin).
//!
//! Tags (one per metric across phases, step = `global_epoch`, the learning
//! curve's x axis): `metrics/<score>` (e.g. `metrics/nll_oracle`),
//! `train/g_loss` (the MLE loss, then the policy-gradient loss),
//! `train/mean_reward`, `train/d_loss`, `train/d_accuracy`,
//! `train/learning_rate` (the generator's `optimizer.lr`),
//! `train/elapsed_seconds`, and the text `samples`. Discriminator
//! pretraining has its own step axis (the round):
//! `discriminator_pretraining/{d_loss,d_accuracy,elapsed_seconds}`.
//!
//! Every record is written with one `write` on an unbuffered file, so a
//! killed run leaves every finished record readable (at most a truncated
//! last one, which readers skip). No fsync: TensorBoard is a view, and
//! metrics.jsonl is the record that survives power loss.
//!
//! **Resume**: steps after the checkpoint are trained again, so the earlier
//! segment's later events are orphans. TensorBoard's own answer, a
//! `SessionLog START` event, purges every tag's later steps, the
//! discriminator-pretraining rounds (another step axis) included, and only
//! readers that implement it honour it. Instead, opening a run rewrites its
//! event files into one: the events of the rows metrics.jsonl kept, in row
//! order, then the old files are removed; rows kept but missing from the
//! files (a run begun before this module) are written from metrics.jsonl.
//!
//! Failing to write events never stops training: the first error is warned
//! about once and the board goes quiet.

use std::{
    collections::{BTreeSet, HashMap},
    fs::File,
    io::Write,
    path::{Path, PathBuf},
    time::{SystemTime, UNIX_EPOCH},
};

use super::metrics::MetricsRow;
use crate::config::ExperimentConfig;

/// The prefix of every event file (TensorBoard reads files whose names
/// contain `tfevents`).
const FILE_PREFIX: &str = "events.out.tfevents.";
/// Where a rewritten event file is assembled; no `tfevents` in the name, so
/// TensorBoard never reads a half-written one.
const REWRITE_PREFIX: &str = ".tensorboard-rewrite.tmp-";
/// The tag prefix of discriminator-pretraining rows (their own step axis).
const PRETRAINING: &str = "discriminator_pretraining/";
/// The phase name of discriminator-pretraining rows in metrics.jsonl.
const PRETRAINING_PHASE: &str = "discriminator-pretraining";
/// How many samples each evaluation shows.
pub const SAMPLES: usize = 4;
/// The text tag.
pub const SAMPLES_TAG: &str = "samples";

// ---------------------------------------------------------------- CRC32C

/// CRC-32C (Castagnoli, reflected polynomial 0x82F63B78), one table.
const CRC_TABLE: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = i as u32;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0x82F6_3B78
            } else {
                crc >> 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
};

/// CRC-32C of `data`.
pub fn crc32c(data: &[u8]) -> u32 {
    !data.iter().fold(!0u32, |crc, &byte| {
        CRC_TABLE[((crc ^ u32::from(byte)) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// TFRecord's masked CRC-32C (a CRC of data that holds CRCs is weak; the
/// mask makes it strong again).
pub fn masked_crc32c(data: &[u8]) -> u32 {
    let crc = crc32c(data);
    crc.rotate_right(15).wrapping_add(0xa282_ead8)
}

// ---------------------------------------------------------------- records

/// `data` framed as one TFRecord.
pub fn frame(data: &[u8]) -> Vec<u8> {
    let length = (data.len() as u64).to_le_bytes();
    let mut record = Vec::with_capacity(data.len() + 16);
    record.extend_from_slice(&length);
    record.extend_from_slice(&masked_crc32c(&length).to_le_bytes());
    record.extend_from_slice(data);
    record.extend_from_slice(&masked_crc32c(data).to_le_bytes());
    record
}

/// Why reading records stopped early, at byte `offset` of the file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RecordError {
    /// The file ends inside a record (a killed writer leaves this).
    Truncated { offset: usize },
    /// The length's CRC does not match.
    LengthCrc { offset: usize },
    /// The data's CRC does not match.
    DataCrc { offset: usize },
}

impl std::fmt::Display for RecordError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordError::Truncated { offset } => write!(f, "truncated record at byte {offset}"),
            RecordError::LengthCrc { offset } => {
                write!(f, "length CRC mismatch in the record at byte {offset}")
            }
            RecordError::DataCrc { offset } => {
                write!(f, "data CRC mismatch in the record at byte {offset}")
            }
        }
    }
}

/// The records of `bytes`, up to the first damaged one (and why it is).
pub fn read_records(bytes: &[u8]) -> (Vec<&[u8]>, Option<RecordError>) {
    let mut records = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let offset = at;
        let Some(header) = bytes.get(at..at + 12) else {
            return (records, Some(RecordError::Truncated { offset }));
        };
        let (length, length_crc) = header.split_at(8);
        if masked_crc32c(length) != u32::from_le_bytes(length_crc.try_into().unwrap_or_default()) {
            return (records, Some(RecordError::LengthCrc { offset }));
        }
        let length = u64::from_le_bytes(length.try_into().unwrap_or_default());
        // A length past the end of the file (however large) is a truncation:
        // checked without adding to it, which could overflow.
        let remaining = (bytes.len() - at - 12) as u64;
        if remaining < 4 || length > remaining - 4 {
            return (records, Some(RecordError::Truncated { offset }));
        }
        let start = at + 12;
        let end = start + length as usize;
        let data = &bytes[start..end];
        let data_crc = u32::from_le_bytes(bytes[end..end + 4].try_into().unwrap_or_default());
        if masked_crc32c(data) != data_crc {
            return (records, Some(RecordError::DataCrc { offset }));
        }
        records.push(data);
        at = end + 4;
    }
    (records, None)
}

// ---------------------------------------------------------------- protobuf encoding

/// A protobuf message being written (only the wire types events use).
#[derive(Default)]
struct Message(Vec<u8>);

impl Message {
    fn varint(&mut self, mut value: u64) {
        while value >= 0x80 {
            self.0.push((value as u8) | 0x80);
            value >>= 7;
        }
        self.0.push(value as u8);
    }

    fn key(&mut self, field: u32, wire_type: u8) {
        self.varint(u64::from(field) << 3 | u64::from(wire_type));
    }

    fn uint(&mut self, field: u32, value: u64) {
        self.key(field, 0);
        self.varint(value);
    }

    fn double(&mut self, field: u32, value: f64) {
        self.key(field, 1);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn float(&mut self, field: u32, value: f32) {
        self.key(field, 5);
        self.0.extend_from_slice(&value.to_le_bytes());
    }

    fn bytes(&mut self, field: u32, value: &[u8]) {
        self.key(field, 2);
        self.varint(value.len() as u64);
        self.0.extend_from_slice(value);
    }

    fn message(&mut self, field: u32, value: Message) {
        self.bytes(field, &value.0);
    }
}

/// What one summary value holds.
#[derive(Clone, Debug, PartialEq)]
pub enum Payload {
    Scalar(f32),
    /// Shown by TensorBoard's text dashboard (Markdown), one row per string.
    Text(Vec<String>),
}

/// `Summary.Value`.
fn encode_value(tag: &str, payload: &Payload) -> Message {
    let mut value = Message::default();
    value.bytes(1, tag.as_bytes());
    match payload {
        Payload::Scalar(v) => value.float(2, *v),
        Payload::Text(strings) => {
            // TensorProto: dtype DT_STRING (7), shape [n], string_val.
            let mut dim = Message::default();
            dim.uint(1, strings.len() as u64);
            let mut shape = Message::default();
            shape.message(2, dim);
            let mut tensor = Message::default();
            tensor.uint(1, 7);
            tensor.message(2, shape);
            for s in strings {
                tensor.bytes(8, s.as_bytes());
            }
            value.message(8, tensor);
            // SummaryMetadata.plugin_data.plugin_name = "text".
            let mut plugin = Message::default();
            plugin.bytes(1, b"text");
            let mut metadata = Message::default();
            metadata.message(1, plugin);
            value.message(9, metadata);
        }
    }
    value
}

/// An `Event` with a `Summary` of `values`.
fn encode_summary_event(wall_time: f64, step: i64, values: &[(String, Payload)]) -> Vec<u8> {
    let mut summary = Message::default();
    for (tag, payload) in values {
        summary.message(1, encode_value(tag, payload));
    }
    let mut event = Message::default();
    event.double(1, wall_time);
    event.uint(2, step as u64);
    event.message(5, summary);
    event.0
}

/// The first event of every file: which format it is in.
fn encode_file_version(wall_time: f64) -> Vec<u8> {
    let mut event = Message::default();
    event.double(1, wall_time);
    event.uint(2, 0);
    event.bytes(3, b"brain.Event:2");
    event.0
}

// ---------------------------------------------------------------- protobuf decoding

/// An event as read back (the fields this module writes; others skipped).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Event {
    pub wall_time: f64,
    pub step: i64,
    pub file_version: Option<String>,
    /// `SessionLog.status` (1 = START), if the event is a session log.
    pub session_status: Option<u64>,
    pub values: Vec<Value>,
}

/// A summary value as read back.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Value {
    pub tag: String,
    pub simple_value: Option<f32>,
    pub plugin_name: Option<String>,
    /// The tensor's dtype (7 = DT_STRING), shape and strings.
    pub dtype: Option<u64>,
    pub shape: Vec<u64>,
    pub strings: Vec<String>,
}

/// Why an event's bytes are not a protobuf message this module can read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DecodeError(pub String);

impl std::fmt::Display for DecodeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "not an Event message: {}", self.0)
    }
}

enum Field<'a> {
    Varint(u64),
    Fixed64(u64),
    Bytes(&'a [u8]),
    Fixed32(u32),
}

fn read_varint(bytes: &[u8], at: &mut usize) -> Result<u64, DecodeError> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let byte = *bytes
            .get(*at)
            .ok_or_else(|| DecodeError("varint runs past the end".into()))?;
        *at += 1;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err(DecodeError("varint longer than 10 bytes".into()))
}

/// The next `n` bytes from `at`.
fn take<'a>(bytes: &'a [u8], at: &mut usize, n: usize) -> Result<&'a [u8], DecodeError> {
    let slice = at
        .checked_add(n)
        .and_then(|end| bytes.get(*at..end))
        .ok_or_else(|| DecodeError("a field runs past the end".into()))?;
    *at += n;
    Ok(slice)
}

/// The fields of one message, in order.
fn fields(bytes: &[u8]) -> Result<Vec<(u64, Field<'_>)>, DecodeError> {
    let mut out = Vec::new();
    let mut at = 0;
    while at < bytes.len() {
        let key = read_varint(bytes, &mut at)?;
        let field = match key & 7 {
            0 => Field::Varint(read_varint(bytes, &mut at)?),
            1 => Field::Fixed64(u64::from_le_bytes(
                take(bytes, &mut at, 8)?.try_into().unwrap_or_default(),
            )),
            2 => {
                let length = read_varint(bytes, &mut at)?;
                let length = usize::try_from(length)
                    .map_err(|_| DecodeError("length does not fit in memory".into()))?;
                Field::Bytes(take(bytes, &mut at, length)?)
            }
            5 => Field::Fixed32(u32::from_le_bytes(
                take(bytes, &mut at, 4)?.try_into().unwrap_or_default(),
            )),
            other => return Err(DecodeError(format!("unsupported wire type {other}"))),
        };
        out.push((key >> 3, field));
    }
    Ok(out)
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn decode_value(bytes: &[u8]) -> Result<Value, DecodeError> {
    let mut value = Value::default();
    for (number, field) in fields(bytes)? {
        match (number, field) {
            (1, Field::Bytes(b)) => value.tag = text(b),
            (2, Field::Fixed32(v)) => value.simple_value = Some(f32::from_bits(v)),
            (8, Field::Bytes(tensor)) => {
                for (number, field) in fields(tensor)? {
                    match (number, field) {
                        (1, Field::Varint(dtype)) => value.dtype = Some(dtype),
                        (2, Field::Bytes(shape)) => {
                            for (number, field) in fields(shape)? {
                                if let (2, Field::Bytes(dim)) = (number, field) {
                                    for (number, field) in fields(dim)? {
                                        if let (1, Field::Varint(size)) = (number, field) {
                                            value.shape.push(size);
                                        }
                                    }
                                }
                            }
                        }
                        (8, Field::Bytes(s)) => value.strings.push(text(s)),
                        _ => {}
                    }
                }
            }
            (9, Field::Bytes(metadata)) => {
                for (number, field) in fields(metadata)? {
                    if let (1, Field::Bytes(plugin)) = (number, field) {
                        for (number, field) in fields(plugin)? {
                            if let (1, Field::Bytes(name)) = (number, field) {
                                value.plugin_name = Some(text(name));
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Ok(value)
}

/// Decodes one record's data as an `Event`.
pub fn decode_event(bytes: &[u8]) -> Result<Event, DecodeError> {
    let mut event = Event::default();
    for (number, field) in fields(bytes)? {
        match (number, field) {
            (1, Field::Fixed64(bits)) => event.wall_time = f64::from_bits(bits),
            (2, Field::Varint(step)) => event.step = step as i64,
            (3, Field::Bytes(version)) => event.file_version = Some(text(version)),
            (5, Field::Bytes(summary)) => {
                for (number, field) in fields(summary)? {
                    if let (1, Field::Bytes(value)) = (number, field) {
                        event.values.push(decode_value(value)?);
                    }
                }
            }
            (6, Field::Bytes(log)) => {
                for (number, field) in fields(log)? {
                    if let (1, Field::Varint(status)) = (number, field) {
                        event.session_status = Some(status);
                    }
                }
            }
            _ => {}
        }
    }
    Ok(event)
}

/// Every event of the file at `path`; any damage (a CRC, a truncation, a
/// message that does not decode) is an error.
pub fn read_events(path: &Path) -> anyhow::Result<Vec<Event>> {
    let bytes =
        std::fs::read(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let (records, damage) = read_records(&bytes);
    if let Some(damage) = damage {
        anyhow::bail!("{}: {damage}", path.display());
    }
    records
        .into_iter()
        .map(|r| decode_event(r).map_err(|e| anyhow::anyhow!("{}: {e}", path.display())))
        .collect()
}

/// The event files in `dir`, oldest name first.
pub fn event_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_name().to_string_lossy().starts_with(FILE_PREFIX) && entry.path().is_file() {
            files.push(entry.path());
        }
    }
    files.sort();
    Ok(files)
}

// ---------------------------------------------------------------- rows → events

/// Where a metrics row's events sit: its step axis and step.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Key {
    /// Generator evaluations, step = global_epoch.
    Evaluation(i64),
    /// Discriminator pretraining, step = round.
    Pretraining(i64),
}

fn row_key(row: &MetricsRow) -> Key {
    if row.phase == PRETRAINING_PHASE {
        Key::Pretraining(row.epoch as i64)
    } else {
        Key::Evaluation(row.global_epoch as i64)
    }
}

fn tag_key(tag: &str, step: i64) -> Key {
    if tag.starts_with(PRETRAINING) {
        Key::Pretraining(step)
    } else {
        Key::Evaluation(step)
    }
}

/// The scalars of a metrics row, by tag.
pub fn row_scalars(row: &MetricsRow, learning_rate: Option<f64>) -> Vec<(String, f32)> {
    let mut scalars = Vec::new();
    let mut push = |tag: String, value: Option<f64>| {
        if let Some(value) = value {
            scalars.push((tag, value as f32));
        }
    };
    match row_key(row) {
        Key::Pretraining(_) => {
            push(format!("{PRETRAINING}d_loss"), row.d_loss);
            push(format!("{PRETRAINING}d_accuracy"), row.d_accuracy);
            push(
                format!("{PRETRAINING}elapsed_seconds"),
                Some(row.elapsed_seconds),
            );
        }
        Key::Evaluation(_) => {
            for (name, &value) in &row.scores {
                push(format!("metrics/{name}"), Some(value));
            }
            push("train/g_loss".into(), row.g_loss);
            push("train/mean_reward".into(), row.mean_reward);
            push("train/d_loss".into(), row.d_loss);
            push("train/d_accuracy".into(), row.d_accuracy);
            push("train/learning_rate".into(), learning_rate);
            push("train/elapsed_seconds".into(), Some(row.elapsed_seconds));
        }
    }
    scalars
}

fn scalar_event(row: &MetricsRow, learning_rate: Option<f64>, wall_time: f64) -> Vec<u8> {
    let values: Vec<(String, Payload)> = row_scalars(row, learning_rate)
        .into_iter()
        .map(|(tag, v)| (tag, Payload::Scalar(v)))
        .collect();
    let step = match row_key(row) {
        Key::Evaluation(step) | Key::Pretraining(step) => step,
    };
    encode_summary_event(wall_time, step, &values)
}

/// The generator's learning rate from the run's merged config
/// (`generator.config.optimizer.lr`), if it has one.
pub fn generator_learning_rate(config: &ExperimentConfig) -> Option<f64> {
    config
        .generator
        .config
        .get("optimizer")?
        .get("lr")?
        .as_f64()
}

fn now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// This machine's name, as file names may hold it.
fn hostname() -> String {
    let mut buffer = [0u8; 256];
    // SAFETY: the buffer is writable for its whole length, which is what
    // gethostname is told; it writes at most that many bytes.
    let rc = unsafe { libc::gethostname(buffer.as_mut_ptr().cast(), buffer.len()) };
    let end = buffer.iter().position(|&b| b == 0).unwrap_or(buffer.len());
    let name: String = String::from_utf8_lossy(&buffer[..end])
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if rc != 0 || name.is_empty() {
        "localhost".into()
    } else {
        name
    }
}

// ---------------------------------------------------------------- the board

/// A run's event file, as the trainer writes it.
pub struct Board {
    dir: PathBuf,
    file: Option<File>,
    learning_rate: Option<f64>,
}

impl Board {
    /// The board of the run in `run_dir` whose metrics log holds `kept`
    /// (empty for a new run): earlier event files are rewritten into one
    /// holding only the events of `kept` (see the module doc). Never fails:
    /// a board that cannot write warns once and stays quiet.
    pub fn open(run_dir: &Path, kept: &[MetricsRow], learning_rate: Option<f64>) -> Board {
        let mut board = Board {
            dir: run_dir.to_path_buf(),
            file: None,
            learning_rate,
        };
        match board.rewrite(kept) {
            Ok(file) => board.file = Some(file),
            Err(e) => board.fail(&e),
        }
        board
    }

    /// The path of the file being written (none once writing failed).
    pub fn path(&self) -> Option<PathBuf> {
        event_files(&self.dir)
            .ok()?
            .pop()
            .filter(|_| self.file.is_some())
    }

    fn fail(&mut self, error: &anyhow::Error) {
        self.file = None;
        crate::notes::warn(&format!(
            "cannot write TensorBoard events in {}: {error:#}; training goes on without them",
            self.dir.display()
        ));
    }

    /// Builds the new file: the file version, the kept rows' events from the
    /// old files (or from the rows themselves), then swaps it in.
    fn rewrite(&self, kept: &[MetricsRow]) -> anyhow::Result<File> {
        let old = event_files(&self.dir)?;
        // Leftovers of a rewrite a crash interrupted.
        for entry in std::fs::read_dir(&self.dir)?.flatten() {
            if entry
                .file_name()
                .to_string_lossy()
                .starts_with(REWRITE_PREFIX)
            {
                let _ = std::fs::remove_file(entry.path());
            }
        }
        let wanted: BTreeSet<Key> = kept.iter().map(row_key).collect();
        let mut by_key: HashMap<Key, Vec<Vec<u8>>> = HashMap::new();
        let mut seen: BTreeSet<(String, i64)> = BTreeSet::new();
        let mut scalars_found: BTreeSet<Key> = BTreeSet::new();
        for path in &old {
            let bytes = std::fs::read(path)?;
            // Damage (a run killed mid-record) ends what can be kept from a
            // file; the rows it loses are written again from metrics.jsonl.
            let (records, damage) = read_records(&bytes);
            if let Some(damage) = damage {
                if !matches!(damage, RecordError::Truncated { .. }) {
                    crate::notes::warn(&format!(
                        "{}: {damage}; its events from there on are dropped",
                        path.display()
                    ));
                }
            }
            for record in records {
                let Ok(event) = decode_event(record) else {
                    continue;
                };
                let Some(first) = event.values.first() else {
                    continue; // file versions and session logs
                };
                let key = tag_key(&first.tag, event.step);
                let pairs: Vec<(String, i64)> = event
                    .values
                    .iter()
                    .map(|v| (v.tag.clone(), event.step))
                    .collect();
                let same_key = event
                    .values
                    .iter()
                    .all(|v| tag_key(&v.tag, event.step) == key);
                // An event from the orphaned steps, or seen already (the
                // same rows in an older file).
                if !same_key || !wanted.contains(&key) || pairs.iter().any(|p| seen.contains(p)) {
                    continue;
                }
                if event.values.iter().any(|v| v.simple_value.is_some()) {
                    scalars_found.insert(key);
                }
                seen.extend(pairs);
                by_key.entry(key).or_default().push(record.to_vec());
            }
        }
        let wall_time = now();
        let mut bytes = frame(&encode_file_version(wall_time));
        for row in kept {
            let key = row_key(row);
            if !scalars_found.contains(&key) {
                bytes.extend(frame(&scalar_event(row, self.learning_rate, wall_time)));
            }
            for record in by_key.remove(&key).unwrap_or_default() {
                bytes.extend(frame(&record));
            }
        }
        let path = self.new_file_path(wall_time, &old);
        let temporary = self
            .dir
            .join(format!("{REWRITE_PREFIX}{}", std::process::id()));
        let result = (|| -> std::io::Result<File> {
            let mut file = File::create(&temporary)?;
            file.write_all(&bytes)?;
            file.sync_all()?;
            std::fs::rename(&temporary, &path)?;
            crate::run_dir::sync_parent(&path);
            std::fs::OpenOptions::new().append(true).open(&path)
        })();
        let file = result.map_err(|e| {
            let _ = std::fs::remove_file(&temporary);
            anyhow::anyhow!("cannot write {}: {e}", path.display())
        })?;
        // Only now that the new file holds everything kept.
        for old_path in old.iter().filter(|p| **p != path) {
            std::fs::remove_file(old_path)
                .map_err(|e| anyhow::anyhow!("cannot remove {}: {e}", old_path.display()))?;
        }
        Ok(file)
    }

    /// `events.out.tfevents.<seconds>.<host>`, zero-padded so names sort by
    /// time (TensorBoard reads a directory's files in name order), with a
    /// suffix if an old file has that name already.
    fn new_file_path(&self, wall_time: f64, old: &[PathBuf]) -> PathBuf {
        let base = format!("{FILE_PREFIX}{:010}.{}", wall_time as u64, hostname());
        let mut path = self.dir.join(&base);
        let mut n = 1;
        while old.contains(&path) || path.exists() {
            path = self.dir.join(format!("{base}.{n}"));
            n += 1;
        }
        path
    }

    fn write(&mut self, event: &[u8]) {
        let Some(file) = self.file.as_mut() else {
            return;
        };
        // One write per record, so a kill never leaves half of two.
        if let Err(e) = file.write_all(&frame(event)) {
            self.fail(&anyhow::anyhow!(e));
        }
    }

    /// Writes the scalars of a metrics row.
    pub fn record(&mut self, row: &MetricsRow) {
        let learning_rate = match row_key(row) {
            Key::Evaluation(_) => self.learning_rate,
            Key::Pretraining(_) => None,
        };
        self.write(&scalar_event(row, learning_rate, now()));
    }

    /// Writes the samples `make` returns as text at generator epoch `step`
    /// (`make` is not called once the board has gone quiet). A failure to
    /// draw them is warned about, not fatal: they are only for looking at.
    pub fn samples(&mut self, step: usize, make: impl FnOnce() -> anyhow::Result<Vec<String>>) {
        if self.file.is_none() {
            return;
        }
        match make() {
            Ok(samples) => {
                let values = [(SAMPLES_TAG.to_string(), Payload::Text(samples))];
                self.write(&encode_summary_event(now(), step as i64, &values));
            }
            Err(e) => crate::notes::warn(&format!(
                "cannot draw samples for TensorBoard: {e:#}; they are left out"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use rand::{Rng, SeedableRng};

    use super::*;

    fn row(phase: &str, epoch: usize, global_epoch: usize, nll: f64) -> MetricsRow {
        let pretraining = phase == PRETRAINING_PHASE;
        MetricsRow {
            phase: phase.into(),
            epoch,
            global_epoch,
            scores: if pretraining {
                BTreeMap::new()
            } else {
                BTreeMap::from([
                    ("nll_oracle".to_string(), nll),
                    ("nll_test".into(), nll / 2.0),
                ])
            },
            g_loss: (!pretraining).then_some(nll * 3.0),
            mean_reward: (phase == "adversarial").then_some(0.25),
            d_loss: Some(0.5 + nll),
            d_accuracy: Some(0.75),
            elapsed_seconds: nll * 10.0,
        }
    }

    /// A run's rows: MLE 0, 2, 4; pretraining rounds 1, 2; adversarial 6, 8.
    fn rows() -> Vec<MetricsRow> {
        vec![
            row("mle", 0, 0, 10.0),
            row("mle", 2, 2, 9.0),
            row("mle", 4, 4, 8.5),
            row(PRETRAINING_PHASE, 1, 4, 1.0),
            row(PRETRAINING_PHASE, 2, 4, 2.0),
            row("adversarial", 2, 6, 8.25),
            row("adversarial", 4, 8, 8.125),
        ]
    }

    fn samples(step: usize) -> Vec<String> {
        vec![format!("sample at {step}"), "a *second* one".into()]
    }

    /// What the trainer does with each row.
    fn write_rows(board: &mut Board, rows: &[MetricsRow]) {
        for r in rows {
            board.record(r);
            if r.phase != PRETRAINING_PHASE {
                board.samples(r.global_epoch, || Ok(samples(r.global_epoch)));
            }
        }
    }

    fn only_file(dir: &Path) -> PathBuf {
        let files = event_files(dir).unwrap();
        assert_eq!(files.len(), 1, "{files:?}");
        files.into_iter().next().unwrap()
    }

    /// (tag, step) → scalar, and (step → samples), of a file; each pair once.
    type Contents = (BTreeMap<(String, i64), f32>, BTreeMap<i64, Vec<String>>);

    fn contents(path: &Path) -> Contents {
        let events = read_events(path).unwrap();
        assert_eq!(events[0].file_version.as_deref(), Some("brain.Event:2"));
        let mut scalars = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for event in &events[1..] {
            for v in &event.values {
                if let Some(x) = v.simple_value {
                    let old = scalars.insert((v.tag.clone(), event.step), x);
                    assert!(old.is_none(), "{} at {} twice", v.tag, event.step);
                } else {
                    assert_eq!(v.tag, SAMPLES_TAG);
                    assert_eq!(v.plugin_name.as_deref(), Some("text"));
                    assert_eq!(v.dtype, Some(7));
                    assert_eq!(v.shape, vec![v.strings.len() as u64]);
                    assert!(texts.insert(event.step, v.strings.clone()).is_none());
                }
            }
        }
        (scalars, texts)
    }

    fn expected(rows: &[MetricsRow], lr: Option<f64>) -> Contents {
        let mut scalars = BTreeMap::new();
        let mut texts = BTreeMap::new();
        for r in rows {
            let step = match row_key(r) {
                Key::Evaluation(s) | Key::Pretraining(s) => s,
            };
            for (tag, v) in row_scalars(r, lr) {
                scalars.insert((tag, step), v);
            }
            if r.phase != PRETRAINING_PHASE {
                texts.insert(step, samples(r.global_epoch));
            }
        }
        (scalars, texts)
    }

    /// The standard CRC-32C check value, and TFRecord's masked CRCs as
    /// TensorBoard's own Python reader computes them
    /// (`tensorboard.compat.tensorflow_stub.pywrap_tensorflow.masked_crc32c`;
    /// 8 zero bytes are the length of an empty record).
    #[test]
    fn crc32c_matches_the_standard_check_value() {
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
        assert_eq!(crc32c(b""), 0);
        assert_eq!(masked_crc32c(b"123456789"), 0xc78a_b0e5);
        assert_eq!(masked_crc32c(&[0u8; 8]), 0x0798_0329);
    }

    #[test]
    fn events_are_framed_and_read_back_with_their_values() {
        let dir = tempfile::tempdir().unwrap();
        let mut board = Board::open(dir.path(), &[], Some(0.01));
        write_rows(&mut board, &rows());
        let path = only_file(dir.path());
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        assert!(
            name.starts_with("events.out.tfevents.") && name.len() > 31,
            "{name}"
        );

        // Framing by hand: the first record's length and both CRCs.
        let bytes = std::fs::read(&path).unwrap();
        let length = u64::from_le_bytes(bytes[..8].try_into().unwrap()) as usize;
        let length_crc = u32::from_le_bytes(bytes[8..12].try_into().unwrap());
        assert_eq!(length_crc, masked_crc32c(&bytes[..8]));
        let data = &bytes[12..12 + length];
        let data_crc = u32::from_le_bytes(bytes[12 + length..16 + length].try_into().unwrap());
        assert_eq!(data_crc, masked_crc32c(data));
        let first = decode_event(data).unwrap();
        assert_eq!(first.file_version.as_deref(), Some("brain.Event:2"));
        assert!(first.wall_time > 1.6e9, "{}", first.wall_time);

        let (scalars, texts) = contents(&path);
        assert_eq!(
            (scalars.clone(), texts.clone()),
            expected(&rows(), Some(0.01))
        );
        // Spot checks of tags and steps against the rows.
        assert_eq!(scalars[&("metrics/nll_oracle".into(), 2)], 9.0);
        assert_eq!(scalars[&("train/mean_reward".into(), 8)], 0.25);
        assert_eq!(scalars[&("train/learning_rate".into(), 0)], 0.01);
        assert_eq!(
            scalars[&("discriminator_pretraining/d_loss".into(), 2)],
            2.5
        );
        assert!(!scalars.contains_key(&("train/mean_reward".into(), 4)));
        assert!(!scalars.contains_key(&("discriminator_pretraining/learning_rate".into(), 1)));
        assert_eq!(texts[&6], samples(6));
    }

    #[test]
    fn damaged_bytes_are_detected() {
        let dir = tempfile::tempdir().unwrap();
        let mut board = Board::open(dir.path(), &[], None);
        write_rows(&mut board, &rows()[..2]);
        let bytes = std::fs::read(only_file(dir.path())).unwrap();
        let (records, damage) = read_records(&bytes);
        assert_eq!(damage, None);
        assert_eq!(records.len(), 5);
        let second = 16 + records[0].len();
        // A byte of a length, of a length CRC, of data, of a data CRC.
        for (at, want) in [
            (second, RecordError::LengthCrc { offset: second }),
            (second + 9, RecordError::LengthCrc { offset: second }),
            (second + 20, RecordError::DataCrc { offset: second }),
            (
                second + 12 + records[1].len() + 1,
                RecordError::DataCrc { offset: second },
            ),
        ] {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x10;
            let (kept, damage) = read_records(&damaged);
            assert_eq!(damage, Some(want), "byte {at}");
            assert_eq!(kept.len(), 1);
        }
        for cut in [1, 5, 13, records[1].len() + 15] {
            let (kept, damage) = read_records(&bytes[..second + cut]);
            assert_eq!(damage, Some(RecordError::Truncated { offset: second }));
            assert_eq!(kept.len(), 1);
        }
        // A huge length with a valid CRC is a truncation, not an overflow.
        let mut huge = frame(b"x");
        huge[..8].copy_from_slice(&u64::MAX.to_le_bytes());
        let crc = masked_crc32c(&huge[..8]).to_le_bytes();
        huge[8..12].copy_from_slice(&crc);
        assert_eq!(
            read_records(&huge).1,
            Some(RecordError::Truncated { offset: 0 })
        );
    }

    /// Whatever the bytes, decoding returns (an error or an event) and never
    /// panics: resume reads files a crash may have left.
    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(3);
        let valid = encode_summary_event(1.0, 3, &[("t".into(), Payload::Text(samples(1)))]);
        for _ in 0..20_000 {
            let mut bytes = if rng.random_bool(0.5) {
                valid.clone()
            } else {
                (0..rng.random_range(0..40)).map(|_| rng.random()).collect()
            };
            if !bytes.is_empty() {
                let at = rng.random_range(0..bytes.len());
                bytes[at] = rng.random();
                bytes.truncate(rng.random_range(0..=bytes.len()));
            }
            let _ = decode_event(&bytes);
            let _ = read_records(&bytes);
        }
    }

    /// Resuming at a checkpoint drops the later (orphaned) events, keeps the
    /// earlier ones and their samples, and leaves one file; the resumed run
    /// then writes the same steps again.
    #[test]
    fn a_resumed_run_keeps_the_checkpoints_events_and_drops_the_orphans() {
        let dir = tempfile::tempdir().unwrap();
        let all = rows();
        let mut board = Board::open(dir.path(), &[], None);
        write_rows(&mut board, &all);
        drop(board);
        // Checkpointed after the first pretraining round.
        let kept = &all[..4];
        let mut board = Board::open(dir.path(), kept, None);
        let path = only_file(dir.path());
        assert_eq!(contents(&path), expected(kept, None));
        // The resumed segment writes the rest: equal to an uninterrupted run.
        write_rows(&mut board, &all[4..]);
        assert_eq!(contents(&path), expected(&all, None));
        // Within each tag the steps ascend in file order (TensorBoard drops a
        // tag's later steps when it sees an earlier one).
        let mut last: HashMap<String, i64> = HashMap::new();
        for event in read_events(&path).unwrap() {
            for v in &event.values {
                let before = last.insert(v.tag.clone(), event.step);
                assert!(before.is_none_or(|b| b < event.step), "{}", v.tag);
            }
        }
        // An older copy of the same events (a rewrite interrupted before it
        // removed the old file) does not duplicate them.
        std::fs::copy(&path, dir.path().join("events.out.tfevents.0000000001.old")).unwrap();
        Board::open(dir.path(), &all, None);
        assert_eq!(contents(&only_file(dir.path())), expected(&all, None));
    }

    /// A run begun without event files (or whose file was cut short) gets
    /// the kept rows' scalars from the rows.
    #[test]
    fn rows_missing_from_the_files_are_written_from_the_metrics() {
        let dir = tempfile::tempdir().unwrap();
        let all = rows();
        let board = Board::open(dir.path(), &all[..3], Some(0.5));
        drop(board);
        let (scalars, texts) = contents(&only_file(dir.path()));
        assert_eq!(scalars, expected(&all[..3], Some(0.5)).0);
        assert!(texts.is_empty());

        // Cut inside the last record: the rows before it are kept as they
        // were, the rest come back from the metrics.
        let dir = tempfile::tempdir().unwrap();
        let mut board = Board::open(dir.path(), &[], None);
        write_rows(&mut board, &all);
        drop(board);
        let path = only_file(dir.path());
        let bytes = std::fs::read(&path).unwrap();
        std::fs::write(&path, &bytes[..bytes.len() - 3]).unwrap();
        Board::open(dir.path(), &all, None);
        let (scalars, texts) = contents(&only_file(dir.path()));
        assert_eq!(scalars, expected(&all, None).0);
        assert_eq!(texts.len(), 4); // the last row's samples were cut
    }

    /// A board that cannot write stays quiet instead of failing the run.
    #[test]
    fn a_board_that_cannot_write_goes_quiet() {
        let dir = tempfile::tempdir().unwrap();
        let not_a_dir = dir.path().join("file");
        std::fs::write(&not_a_dir, "x").unwrap();
        let mut board = Board::open(&not_a_dir, &rows(), None);
        assert!(board.path().is_none());
        let mut called = false;
        write_rows(&mut board, &rows());
        board.samples(1, || {
            called = true;
            Ok(vec![])
        });
        assert!(!called);
    }

    #[test]
    fn the_learning_rate_comes_from_the_merged_generator_config() {
        let mut config: ExperimentConfig = agon_sdk::yaml::from_str(
            "name: x\ntask: {kind: synthetic-oracle}\ngenerator: {plugin: a/b@^0.1, config: {optimizer: {lr: 0.01}}}\n",
        )
        .unwrap();
        assert_eq!(generator_learning_rate(&config), Some(0.01));
        config.generator.config = agon_sdk::yaml::Value::Null;
        assert_eq!(generator_learning_rate(&config), None);
    }
}
