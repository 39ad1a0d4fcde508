//! The one structural pass over a COCO document, read in chunks (never the whole file in
//! memory): it validates the JSON, records where each top-level value and each record of
//! `images`, `annotations` and `categories` starts, and extracts the columns of those records.
//!
//! Each step of the pass (one top-level token, or one whole array element) either completes or
//! asks for more bytes; the window then keeps the unfinished step's bytes, reads the next chunk
//! and retries it. A window therefore holds one chunk plus at most one record.
//!
//! Records are parsed in parallel without a sequential pre-pass: the window's run of records is
//! cut into a few segments per thread at guessed record boundaries (`}`, `,`, `{`), each segment is
//! parsed as a run of records, and a guess is confirmed only if the segment before it, parsed
//! from a known record start, ends exactly there. A wrong guess (the bytes were inside a
//! record) just discards the later segments' work; the result never depends on the guesses or
//! on the thread count. Each segment's records go straight into columns of its own, which the
//! step appends in file order; the file itself is read ahead on a thread of its own.
//!
//! Schema problems (a string id, a bbox of 3 numbers) are remembered and reported only once the
//! whole document has proved to be valid JSON, since pycocotools' `json.load` would fail first
//! on a malformed document.

use std::io::Read;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};

use rayon::prelude::*;

use super::columns::{
    code_value, decimal_code, plain_decimal_code, BoxValue, Boxes, IntColumn, Offsets,
};
use super::json::{plain_decimal, plain_number_end, Lexer, Number, Step, Stop};
use crate::error::{Error, Result};
use crate::parallel;

/// The record arrays that get columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Images,
    Annotations,
    Categories,
    /// The records of a results file (`loadRes`): a top-level list of detections, kept in
    /// the `annotations` columns.
    Results,
}

impl Kind {
    pub fn key(self) -> &'static str {
        match self {
            Kind::Images => "images",
            Kind::Annotations => "annotations",
            Kind::Categories => "categories",
            Kind::Results => "results",
        }
    }

    pub fn of_key(key: &str) -> Option<Kind> {
        match key {
            "images" => Some(Kind::Images),
            "annotations" => Some(Kind::Annotations),
            "categories" => Some(Kind::Categories),
            _ => None,
        }
    }
}

/// Flag bits of an annotation: which optional fields it has, and its crowd flag.
pub mod flag {
    pub const HAS_CATEGORY: u8 = 1;
    pub const HAS_AREA: u8 = 2;
    pub const HAS_BBOX: u8 = 4;
    pub const HAS_ISCROWD: u8 = 8;
    pub const ISCROWD: u8 = 16;
    /// The crowd flag was written as `true`/`false` rather than 1/0.
    pub const ISCROWD_BOOL: u8 = 32;
    /// Results only: the record has a `score` / a `segmentation`.
    pub const HAS_SCORE: u8 = 64;
    pub const HAS_SEGMENTATION: u8 = 128;
    /// Annotations only (the bits results use for `score` and `segmentation`): the record's
    /// `num_keypoints` is a number / is 0 (keypoint evaluation's `ignore`).
    pub const HAS_NUM_KEYPOINTS: u8 = 64;
    pub const NO_KEYPOINTS: u8 = 128;
    pub const HAS_WIDTH: u8 = 1;
    pub const HAS_HEIGHT: u8 = 2;
}

/// What the document is: a COCO dataset (an object) or a results file (a list of records).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    Coco,
    Results,
}

/// One top-level member: its key and where its value lies (`start..end` in the file).
#[derive(Debug, Clone)]
pub struct TopEntry {
    pub key: String,
    pub start: u64,
    pub end: u64,
}

/// Columns of one record array as the scan collects them.
#[derive(Debug, Default)]
pub struct Records {
    /// File offset of each record's first byte.
    pub offsets: Offsets,
    /// Offset just past the array's last record (the `]`), bounding the last record.
    pub end: u64,
    pub id: IntColumn,
    pub image_id: IntColumn,
    pub category_id: IntColumn,
    pub area: Vec<f64>,
    pub bbox: Boxes,
    pub width: Vec<i64>,
    pub height: Vec<i64>,
    /// Results only.
    pub score: Vec<f64>,
    pub flags: Vec<u8>,
    /// Annotations only: (row, place of the `keypoints` value from the record's start) of
    /// the records that have one, in row order.
    pub keypoints: Vec<(u32, u32)>,
}

impl Records {
    /// Room for `n` more records of `kind` in the columns it fills.
    fn reserve(&mut self, kind: Kind, n: usize) {
        self.offsets.reserve(n);
        self.flags.reserve(n);
        match kind {
            Kind::Images => {
                self.id.reserve(n);
                self.width.reserve(n);
                self.height.reserve(n);
            }
            Kind::Annotations | Kind::Results => {
                if kind == Kind::Results {
                    self.score.reserve(n);
                } else {
                    self.area.reserve(n);
                }
                self.id.reserve(n);
                self.image_id.reserve(n);
                self.category_id.reserve(n);
                self.bbox.reserve(n);
            }
            Kind::Categories => self.id.reserve(n),
        }
    }

    /// Appends the records of `other` (a part parsed on its own, its rows counted from 0).
    fn append(&mut self, kind: Kind, other: Records) {
        let rows = self.offsets.len();
        self.offsets.append(&other.offsets);
        if kind == Kind::Results {
            // `loadRes` numbers results from 1 in file order.
            for r in 0..other.offsets.len() {
                self.id.push((rows + r + 1) as i64);
            }
        } else {
            self.id.append(&other.id);
        }
        self.image_id.append(&other.image_id);
        self.category_id.append(&other.category_id);
        self.area.extend_from_slice(&other.area);
        self.bbox.append(&other.bbox);
        self.width.extend_from_slice(&other.width);
        self.height.extend_from_slice(&other.height);
        self.score.extend_from_slice(&other.score);
        self.flags.extend_from_slice(&other.flags);
        // Rows beyond 32 bits are left out (their keypoints are found by walking the record).
        let shifted = other
            .keypoints
            .iter()
            .filter_map(|&(r, at)| Some((u32::try_from(rows + r as usize).ok()?, at)));
        self.keypoints.extend(shifted);
    }
}

/// What the pass found.
#[derive(Debug, Default)]
pub struct Scanned {
    pub top: Vec<TopEntry>,
    pub images: Records,
    pub annotations: Records,
    pub categories: Records,
    /// Bytes read.
    pub len: u64,
    /// Size of the input if known (0 if not), to size the columns.
    size: u64,
    /// The records of the last run, appended to their columns while the next window is
    /// parsed (see [`Scanned::append_parts`] and the run step of `step`).
    pending: Option<(Kind, Vec<Part>)>,
}

impl Scanned {
    /// Appends a run's parts to the columns of `kind`, noting the first schema problem.
    fn append_parts(recs: &mut Records, problem: &mut Option<Error>, kind: Kind, parts: Vec<Part>) {
        for part in parts {
            let rows = recs.offsets.len();
            if let Some(p) = part.problem {
                problem.get_or_insert_with(|| p.error(kind, rows));
            }
            recs.append(kind, part.recs);
        }
    }

    /// Appends the pending run, if any; every step but a run of records does this first, so
    /// that nothing reads the columns with records still pending.
    fn flush(&mut self, problems: &mut Problems) {
        if let Some((kind, parts)) = self.pending.take() {
            Scanned::append_parts(self.records_mut(kind), problems.of(kind), kind, parts);
        }
    }

    pub fn records(&self, kind: Kind) -> &Records {
        match kind {
            Kind::Images => &self.images,
            Kind::Annotations | Kind::Results => &self.annotations,
            Kind::Categories => &self.categories,
        }
    }

    fn records_mut(&mut self, kind: Kind) -> &mut Records {
        match kind {
            Kind::Images => &mut self.images,
            Kind::Annotations | Kind::Results => &mut self.annotations,
            Kind::Categories => &mut self.categories,
        }
    }

    pub fn has_key(&self, key: &str) -> bool {
        self.top.iter().any(|e| e.key == key)
    }
}

/// A schema problem found in a record: which record and field, and what was expected.
#[derive(Debug, Clone, Copy)]
struct Problem {
    field: &'static str,
    expected: &'static str,
}

/// The fields of one record that the index keeps.
#[derive(Debug, Default)]
struct Fields {
    id: Option<i64>,
    image_id: Option<i64>,
    category_id: Option<i64>,
    area: Option<f64>,
    bbox: Option<BoxValue>,
    iscrowd: Option<(bool, bool)>,
    width: Option<i64>,
    height: Option<i64>,
    score: Option<f64>,
    segmentation: bool,
    /// `num_keypoints` as its flag bits ([`flag::HAS_NUM_KEYPOINTS`], [`flag::NO_KEYPOINTS`]).
    num_keypoints: u8,
    /// Where the `keypoints` value lies, from the record's `{` (None also where that is
    /// beyond 32 bits: such a record is walked). Small, as a window's records are buffered.
    keypoints: Option<u32>,
    /// Fields whose (last) value is wrong; a later valid value of the same key clears it, as
    /// the last value of a repeated key is the one Python keeps.
    problems: Vec<Problem>,
}

impl Fields {
    fn note(&mut self, field: &'static str, expected: &'static str) {
        self.problems.retain(|p| p.field != field);
        self.problems.push(Problem { field, expected });
    }

    fn fine(&mut self, field: &'static str) {
        self.problems.retain(|p| p.field != field);
    }

    fn has_problem(&self, field: &str) -> bool {
        self.problems.iter().any(|p| p.field == field)
    }
}

/// Schema problems waiting for the document to prove valid JSON: one for the document itself
/// and one per record array (a repeated array replaces the earlier one and its problems).
#[derive(Debug, Default)]
struct Problems {
    document: Option<Error>,
    arrays: [Option<Error>; 3],
}

impl Problems {
    fn of(&mut self, kind: Kind) -> &mut Option<Error> {
        match kind {
            Kind::Results => &mut self.arrays[Kind::Annotations as usize],
            _ => &mut self.arrays[kind as usize],
        }
    }

    fn first(self) -> Option<Error> {
        let [a, b, c] = self.arrays;
        self.document.or(a).or(b).or(c)
    }
}

const INTEGER: &str = "an integer";

fn is_number_start(b: u8) -> bool {
    matches!(b, b'-' | b'0'..=b'9' | b'N' | b'I')
}

/// An integer field; another value is skipped (validated) and reported.
fn int_field(lx: &mut Lexer<'_>) -> Step<std::result::Result<i64, &'static str>> {
    if is_number_start(lx.peek("a value")?) {
        return Ok(match lx.number()? {
            Number::Int(i) => Ok(i),
            Number::BigInt { .. } => Err("an integer within 64 bits"),
            Number::Float(_) => Err(INTEGER),
        });
    }
    lx.skip_value(2)?;
    Ok(Err(INTEGER))
}

fn number_value(n: Number, lx: &Lexer<'_>) -> f64 {
    match n {
        Number::Int(i) => i as f64,
        Number::Float(f) => f,
        Number::BigInt { start, end } => std::str::from_utf8(&lx.buf[start..end])
            .ok()
            .and_then(|s| s.parse::<f64>().ok())
            .unwrap_or(f64::NAN),
    }
}

/// A number field (int or float).
fn number_field(lx: &mut Lexer<'_>) -> Step<Option<f64>> {
    if is_number_start(lx.peek("a value")?) {
        let n = lx.number()?;
        return Ok(Some(number_value(n, lx)));
    }
    lx.skip_value(2)?;
    Ok(None)
}

/// `iscrowd`: 0, 1, true or false. Returns (value, written as a bool).
fn crowd_field(lx: &mut Lexer<'_>) -> Step<Option<(bool, bool)>> {
    match lx.peek("a value")? {
        b't' | b'f' => {
            let start = lx.pos;
            lx.skip_value(2)?;
            Ok(Some((lx.buf[start] == b't', true)))
        }
        b if is_number_start(b) => Ok(match lx.number()? {
            Number::Int(0) => Some((false, false)),
            Number::Int(1) => Some((true, false)),
            _ => None,
        }),
        _ => {
            lx.skip_value(2)?;
            Ok(None)
        }
    }
}

/// `bbox`: exactly four numbers. Plain decimals become their compact codes straight from the
/// text (no double is parsed); other numbers are parsed, and the box is kept whole if one of
/// them has no code.
fn bbox_field(lx: &mut Lexer<'_>) -> Step<Option<BoxValue>> {
    if lx.peek("a value")? != b'[' {
        lx.skip_value(2)?;
        return Ok(None);
    }
    lx.pos += 1;
    if lx.peek("a value or ']'")? == b']' {
        lx.pos += 1;
        return Ok(None);
    }
    // `coded`: bit i set where number i is in `codes`, else it is in `values`.
    let (mut codes, mut values, mut coded) = ([0u32; 4], [0.0; 4], 0u8);
    let (mut n, mut ok) = (0usize, true);
    loop {
        let b = lx.peek("a value")?;
        let code = if b.is_ascii_digit() {
            plain_code(lx)?
        } else {
            None
        };
        match code {
            Some(code) => {
                if let Some(slot) = codes.get_mut(n) {
                    *slot = code;
                    coded |= 1 << n;
                }
            }
            None if is_number_start(b) => {
                let v = lx.number()?;
                if let Some(slot) = values.get_mut(n) {
                    *slot = number_value(v, lx);
                }
            }
            None => {
                lx.skip_value(3)?;
                ok = false;
            }
        }
        n += 1;
        if !separator(lx)? {
            break;
        }
    }
    if !ok || n != 4 {
        return Ok(None);
    }
    if coded == 0b1111 {
        return Ok(Some(BoxValue::Codes(codes)));
    }
    // Some numbers were parsed: fill in the coded ones and encode the box by value.
    for (i, value) in values.iter_mut().enumerate() {
        if coded & (1 << i) != 0 {
            *value = code_value(codes[i]);
        }
    }
    Ok(Some(BoxValue::of(values)))
}

/// The [`decimal_code`] of the number at `lx.pos`, taken from its text (the lexer moves past
/// it), or None with the lexer left where it was.
fn plain_code(lx: &mut Lexer<'_>) -> Step<Option<u32>> {
    if let Some(d) = plain_decimal(lx.buf, lx.pos) {
        let code = plain_decimal_code(&d);
        if code.is_some() {
            lx.pos = d.end;
        }
        return Ok(code);
    }
    let end = match plain_number_end(lx.buf, lx.pos) {
        Some(end) => end,
        None => lx.number_span()?.0,
    };
    let code = decimal_code(&lx.buf[lx.pos..end]);
    if code.is_some() {
        lx.pos = end;
    }
    Ok(code)
}

/// After an array element: true on `,` (more follow), false on `]` (consumed).
fn separator(lx: &mut Lexer<'_>) -> Step<bool> {
    match lx.peek("',' or ']'")? {
        b',' => {
            lx.pos += 1;
            Ok(true)
        }
        b']' => {
            lx.pos += 1;
            Ok(false)
        }
        _ => Err(Stop::Bad {
            pos: lx.pos,
            expected: "',' or ']'",
        }),
    }
}

/// A field's value, or None with its problem noted.
#[inline]
fn take<T>(
    f: &mut Fields,
    field: &'static str,
    v: std::result::Result<T, &'static str>,
) -> Option<T> {
    match v {
        Ok(v) => {
            f.fine(field);
            Some(v)
        }
        Err(expected) => {
            f.note(field, expected);
            None
        }
    }
}

fn dimension(v: std::result::Result<i64, &'static str>) -> std::result::Result<i64, &'static str> {
    v.ok()
        .filter(|d| (0..=i64::from(u32::MAX)).contains(d))
        .ok_or("a non-negative integer below 2^32")
}

/// The fields of a record the index reads; every other key's value is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Field {
    Id,
    ImageId,
    CategoryId,
    Area,
    Bbox,
    Iscrowd,
    Score,
    Keypoints,
    NumKeypoints,
    Segmentation,
    Width,
    Height,
    Other,
}

impl Field {
    fn of(kind: Kind, key: &[u8]) -> Field {
        match (kind, key) {
            // `loadRes` numbers the results itself: their ids are not read.
            (Kind::Images | Kind::Annotations | Kind::Categories, b"id") => Field::Id,
            (Kind::Annotations | Kind::Results, b"image_id") => Field::ImageId,
            (Kind::Annotations | Kind::Results, b"category_id") => Field::CategoryId,
            (Kind::Annotations, b"area") => Field::Area,
            (Kind::Annotations | Kind::Results, b"bbox") => Field::Bbox,
            (Kind::Annotations, b"iscrowd") => Field::Iscrowd,
            (Kind::Results, b"score") => Field::Score,
            (Kind::Annotations, b"keypoints") => Field::Keypoints,
            (Kind::Annotations, b"num_keypoints") => Field::NumKeypoints,
            (Kind::Results, b"segmentation") => Field::Segmentation,
            (Kind::Images, b"width") => Field::Width,
            (Kind::Images, b"height") => Field::Height,
            _ => Field::Other,
        }
    }
}

/// The keys of the previous record, each as the 16-byte pattern of `"key":`, tried in turn on
/// the next record: the records of an array nearly always repeat their keys in one order,
/// and one masked compare then stands for finding the key's end, matching it and checking
/// the ':' (a record's keys were a tenth of the scan).
#[derive(Default)]
struct KeyOrder {
    slots: Vec<KeySlot>,
}

#[derive(Clone, Copy)]
struct KeySlot {
    /// `"key":` in little-endian order, zero past its `len` bytes; `mask` keeps those bytes.
    /// A slot that can never match has a zero mask and a non-zero pattern.
    pattern: u128,
    mask: u128,
    len: usize,
    field: Field,
}

impl KeyOrder {
    /// The field of key number `i` of the record, if the bytes at `lx.pos` are the `"key":`
    /// the previous record had there (then the lexer moves past the ':').
    #[inline]
    fn predicted(&self, lx: &mut Lexer<'_>, i: usize) -> Option<Field> {
        let slot = self.slots.get(i)?;
        let bytes: [u8; 16] = lx.buf.get(lx.pos..lx.pos + 16)?.try_into().ok()?;
        if u128::from_le_bytes(bytes) & slot.mask != slot.pattern {
            return None;
        }
        lx.pos += slot.len;
        Some(slot.field)
    }

    /// Remembers key number `i` as it was written: `"key":` with no escape or space inside
    /// (`plain`), or a slot that never matches.
    fn learn(&mut self, i: usize, key: &[u8], plain: bool, field: Field) {
        let len = key.len() + 3;
        let slot = if plain && len <= 16 {
            let mut bytes = [0u8; 16];
            bytes[0] = b'"';
            bytes[1..=key.len()].copy_from_slice(key);
            bytes[key.len() + 1] = b'"';
            bytes[key.len() + 2] = b':';
            KeySlot {
                pattern: u128::from_le_bytes(bytes),
                mask: u128::MAX >> (8 * (16 - len)),
                len,
                field,
            }
        } else {
            KeySlot {
                pattern: 1,
                mask: 0,
                len: 0,
                field,
            }
        };
        match self.slots.get_mut(i) {
            Some(s) => *s = slot,
            None => self.slots.push(slot),
        }
    }
}

/// Reads one record (an object) of `kind`, keeping the fields the index needs and validating
/// the rest. A non-object is skipped and reported. `order` holds the previous record's keys.
fn record(lx: &mut Lexer<'_>, kind: Kind, order: &mut KeyOrder) -> Step<Fields> {
    let mut f = Fields::default();
    if lx.peek("a value")? != b'{' {
        lx.skip_value(1)?;
        f.note("", "an object");
        return Ok(f);
    }
    let open = lx.pos;
    lx.pos += 1;
    if lx.peek("a key or '}'")? == b'}' {
        lx.pos += 1;
        return Ok(f);
    }
    for i in 0.. {
        if lx.peek("a key (a string)")? != b'"' {
            return Err(Stop::Bad {
                pos: lx.pos,
                expected: "a key (a string)",
            });
        }
        let field = match order.predicted(lx, i) {
            Some(field) => field,
            None => {
                let escaped;
                let (key, plain): (&[u8], bool) = match lx.plain_key() {
                    Some(key) => (key, true),
                    None => {
                        escaped = lx.string()?.0;
                        (&escaped, false)
                    }
                };
                let field = Field::of(kind, key);
                let colon_next = lx.buf.get(lx.pos) == Some(&b':');
                order.learn(i, key, plain && colon_next, field);
                lx.expect(b':', "':' after a key")?;
                field
            }
        };
        // Each known field takes its value, or notes what is wrong with it (the last value of
        // a repeated key decides either way).
        match field {
            Field::Id => {
                let v = int_field(lx)?;
                f.id = take(&mut f, "id", v);
            }
            Field::ImageId => {
                let v = int_field(lx)?;
                f.image_id = take(&mut f, "image_id", v);
            }
            Field::CategoryId => {
                let v = int_field(lx)?;
                f.category_id = take(&mut f, "category_id", v);
            }
            Field::Area => {
                let v = number_field(lx)?.ok_or("a number");
                f.area = take(&mut f, "area", v);
            }
            Field::Bbox => {
                let v = bbox_field(lx)?.ok_or("a list of 4 numbers [x, y, width, height]");
                f.bbox = take(&mut f, "bbox", v);
            }
            Field::Iscrowd => {
                let v = crowd_field(lx)?.ok_or("0, 1, true or false");
                f.iscrowd = take(&mut f, "iscrowd", v);
            }
            Field::Score => {
                let v = number_field(lx)?.ok_or("a number");
                f.score = take(&mut f, "score", v);
            }
            // Found again by keypoint evaluation without walking the record.
            Field::Keypoints => {
                f.keypoints = u32::try_from(lx.pos - open).ok();
                lx.skip_value(1)?;
            }
            Field::NumKeypoints => {
                // `num_keypoints == 0` as Python compares (-0.0 included).
                f.num_keypoints = match number_field(lx)? {
                    Some(n) => {
                        let zero = if n == 0.0 { flag::NO_KEYPOINTS } else { 0 };
                        flag::HAS_NUM_KEYPOINTS | zero
                    }
                    None => 0,
                }
            }
            Field::Segmentation => {
                lx.skip_value(1)?;
                f.segmentation = true;
            }
            Field::Width => {
                let v = dimension(int_field(lx)?);
                f.width = take(&mut f, "width", v);
            }
            Field::Height => {
                let v = dimension(int_field(lx)?);
                f.height = take(&mut f, "height", v);
            }
            Field::Other => lx.skip_value(1)?,
        }
        match lx.peek("',' or '}'")? {
            b',' => lx.pos += 1,
            b'}' => {
                lx.pos += 1;
                return Ok(f);
            }
            _ => {
                return Err(Stop::Bad {
                    pos: lx.pos,
                    expected: "',' or '}'",
                })
            }
        }
    }
    Ok(f)
}

/// Where the pass stands between steps.
#[derive(Debug, Clone, Copy, PartialEq)]
enum State {
    Start,
    /// The start of a results document (a list of records).
    StartResults,
    FirstKey,
    Key,
    Value(usize),
    /// Just inside a top-level array (entry index, record kind if it has columns).
    ArrayFirst(usize, Option<Kind>),
    Element(usize, Option<Kind>),
    AfterElement(usize, Option<Kind>),
    AfterMember,
    End,
    Done,
}

/// Bytes of a typical record, to size a segment's columns (an annotation with its polygon
/// takes about 500 in COCO; fewer bytes a record only means some regrowth).
const RECORD_BYTES_GUESS: usize = 512;

/// Segments of a window per thread (see [`parse_runs`]).
const SEGMENTS_PER_THREAD: usize = 4;

/// Most bytes of room kept in front of each chunk read ahead (see [`Window::refill`]).
const MAX_HEADROOM: usize = 256 << 10;

/// A chunk read ahead: `headroom` bytes of room, then the file's bytes.
type Chunk = std::io::Result<Vec<u8>>;

/// Reads `reader` in chunks on its own thread, so that reading the file (a copy out of the
/// page cache, about a tenth of the pass) overlaps parsing it. Buffers come back through
/// `spare` to be filled again: no fresh memory (zeroed and faulted in) per chunk.
fn read_ahead<R: Read>(
    mut reader: R,
    chunk: usize,
    headroom: usize,
    chunks: SyncSender<Chunk>,
    spare: Receiver<Vec<u8>>,
) {
    loop {
        let mut buf = spare.try_recv().unwrap_or_default();
        buf.truncate(headroom + chunk);
        buf.resize(headroom + chunk, 0);
        let mut got = 0;
        while got < chunk {
            match reader.read(&mut buf[headroom + got..]) {
                Ok(0) => break,
                Ok(n) => got += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                Err(e) => {
                    let _ = chunks.send(Err(e));
                    return;
                }
            }
        }
        buf.truncate(headroom + got);
        // A closed channel means the pass stopped (an error); then so does the reading.
        if got == 0 || chunks.send(Ok(buf)).is_err() || got < chunk {
            return;
        }
    }
}

/// A window over the input: `buf[lo..]` holds the bytes from file offset `base` on, of which
/// the first `pos` are consumed.
struct Window {
    buf: Vec<u8>,
    lo: usize,
    base: u64,
    pos: usize,
    eof: bool,
    headroom: usize,
    chunks: Receiver<Chunk>,
    spare: SyncSender<Vec<u8>>,
}

impl Window {
    fn bytes(&self) -> &[u8] {
        self.buf.get(self.lo..).unwrap_or_default()
    }

    /// The next chunk read ahead, or None at the end of the file.
    fn next_chunk(&mut self) -> std::io::Result<Option<Vec<u8>>> {
        match self.chunks.recv() {
            Ok(chunk) => chunk.map(Some),
            Err(_) => {
                self.eof = true;
                Ok(None)
            }
        }
    }

    fn recycle(&self, buf: Vec<u8>) {
        let _ = self.spare.try_send(buf);
    }

    /// Drops the consumed bytes and takes the next chunk. The unconsumed tail (usually part
    /// of one record) is copied into the room in front of the chunk, not the chunk behind the
    /// tail; a tail larger than that room (a window that holds one unfinished step) grows
    /// instead, at least doubling, so a record of any size fits in a few refills.
    fn refill(&mut self) -> std::io::Result<()> {
        let start = (self.lo + self.pos).min(self.buf.len());
        self.base += self.pos as u64;
        self.pos = 0;
        let tail_len = self.buf.len() - start;
        let Some(mut next) = self.next_chunk()? else {
            self.lo = start;
            return Ok(());
        };
        if tail_len <= self.headroom {
            let at = self.headroom - tail_len;
            let (tail, room) = (&self.buf[start..], &mut next[at..self.headroom]);
            room.copy_from_slice(tail);
            let old = std::mem::replace(&mut self.buf, next);
            self.recycle(old);
            self.lo = at;
            return Ok(());
        }
        let mut grown = Vec::with_capacity(2 * tail_len + next.len());
        grown.extend_from_slice(&self.buf[start..]);
        loop {
            grown.extend_from_slice(next.get(self.headroom..).unwrap_or_default());
            self.recycle(next);
            if grown.len() >= 2 * tail_len {
                break;
            }
            match self.next_chunk()? {
                Some(more) => next = more,
                None => break,
            }
        }
        let old = std::mem::replace(&mut self.buf, grown);
        self.recycle(old);
        self.lo = 0;
        Ok(())
    }
}

/// The pass itself: reads `reader` to its end (on a thread of its own, see [`read_ahead`]),
/// a document of the given kind.
pub fn scan<R: Read + Send>(reader: R, chunk: usize, doc: Document) -> Result<Scanned> {
    scan_sized(reader, 0, chunk, doc)
}

/// [`scan`] of an input of `size` bytes (0: unknown). Knowing it, the columns are sized once
/// from the first window's records, rather than grown by doubling: regrowth copies leave
/// freed blocks behind that the allocator keeps (a few bytes per record of resident memory).
pub fn scan_sized<R: Read + Send>(
    reader: R,
    size: u64,
    chunk: usize,
    doc: Document,
) -> Result<Scanned> {
    let chunk = chunk.max(64);
    let headroom = (chunk / 8).clamp(16, MAX_HEADROOM);
    std::thread::scope(|s| {
        let (chunk_tx, chunks) = sync_channel(1);
        let (spare, spare_rx) = sync_channel(2);
        std::thread::Builder::new()
            .name("cocors-read".into())
            .spawn_scoped(s, move || {
                read_ahead(reader, chunk, headroom, chunk_tx, spare_rx)
            })
            .map_err(io_error)?;
        let mut win = Window {
            buf: Vec::new(),
            lo: 0,
            base: 0,
            pos: 0,
            eof: false,
            headroom,
            chunks,
            spare,
        };
        win.refill().map_err(io_error)?;
        pass(&mut win, doc, size)
    })
}

/// The steps of the pass over the window, refilling it as they ask.
fn pass(win: &mut Window, doc: Document, size: u64) -> Result<Scanned> {
    let mut out = Scanned {
        size,
        ..Scanned::default()
    };
    let mut problems = Problems::default();
    let mut state = match doc {
        Document::Coco => State::Start,
        Document::Results => State::StartResults,
    };
    while state != State::Done {
        let mut lx = Lexer::new(win.bytes(), win.pos, win.eof);
        let stepped = step(&mut lx, state, &mut out, win.base, &mut problems);
        match stepped {
            Ok(next) => {
                win.pos = lx.pos;
                state = next;
            }
            Err(Stop::More) => win.refill().map_err(io_error)?,
            Err(Stop::Bad { pos, expected }) => return Err(parse_error(win.base, pos, expected)),
        }
    }
    out.flush(&mut problems);
    out.len = win.base + win.pos as u64;
    if let Some(p) = problems.first() {
        return Err(p);
    }
    Ok(out)
}

fn parse_error(base: u64, pos: usize, expected: &'static str) -> Error {
    Error::Parse {
        path: String::new(),
        offset: base + pos as u64,
        line: 0,
        column: 0,
        expected,
    }
}

/// How a run of records ended.
#[derive(Debug, Clone, Copy, PartialEq)]
enum RunEnd {
    /// The array closes after the last record (`]` next).
    Close,
    /// The window ended; the next record starts at `resume`.
    More,
    /// The window ended after a record, before its separator (at `resume`).
    MoreSeparator,
    /// Malformed JSON.
    Bad(Stop),
}

/// Records parsed from one stretch of the window, already in columns.
struct Run {
    /// In file order, one part per segment (joining runs copies no records).
    parts: Vec<Part>,
    /// After the last record (before its separator) when `Close`; where the next record starts
    /// when `More`.
    resume: usize,
    end: RunEnd,
}

impl Run {
    /// How many records the run holds.
    fn len(&self) -> usize {
        self.parts.iter().map(|p| p.recs.offsets.len()).sum()
    }
}

/// The columns of one segment's records (rows counted from its first record) and its first
/// schema problem.
#[derive(Debug, Default)]
struct Part {
    recs: Records,
    problem: Option<Pending>,
}

/// A record's schema problem, before the record's row in the whole array is known.
#[derive(Debug)]
struct Pending {
    index: usize,
    id: Option<i64>,
    field: &'static str,
    expected: &'static str,
}

impl Pending {
    /// The error, for a part whose first record is row `rows` of the array.
    fn error(&self, kind: Kind, rows: usize) -> Error {
        let index = rows + self.index;
        Error::Schema {
            path: String::new(),
            record: match self.id {
                Some(id) => format!("{}[{index}] (id {id})", kind.key()),
                None => format!("{}[{index}]", kind.key()),
            },
            field: self.field.into(),
            expected: self.expected.into(),
        }
    }
}

/// Parses records of `kind` starting at `start` (where a record begins), each followed by `,`
/// or the closing `]`, until the array closes, the window ends or the input is malformed;
/// `base` is the file offset of `buf[0]`.
fn parse_run(buf: &[u8], start: usize, eof: bool, kind: Kind, base: u64) -> Run {
    let mut part = Part::default();
    // Room for the records of a stretch of COCO-like density (a few hundred bytes a record)
    // up front, rather than regrowing a dozen columns from empty in every segment.
    part.recs
        .reserve(kind, buf.len().saturating_sub(start) / RECORD_BYTES_GUESS);
    let (resume, end) = run_records(buf, start, eof, kind, base, &mut part);
    Run {
        parts: vec![part],
        resume,
        end,
    }
}

/// The loop of [`parse_run`]: appends records, returns where and how the run stopped.
fn run_records(
    buf: &[u8],
    start: usize,
    eof: bool,
    kind: Kind,
    base: u64,
    part: &mut Part,
) -> (usize, RunEnd) {
    let mut p = start;
    let mut order = KeyOrder::default();
    loop {
        let mut lx = Lexer::new(buf, p, eof);
        match record(&mut lx, kind, &mut order) {
            Ok(f) => {
                let at = base + first_non_ws(buf, p) as u64;
                push_record(&mut part.recs, kind, at, f, &mut part.problem);
            }
            Err(Stop::More) => return (p, RunEnd::More),
            Err(bad) => return (p, RunEnd::Bad(bad)),
        }
        let after = lx.pos;
        match lx.peek("',' or ']'") {
            Ok(b',') => {
                lx.pos += 1;
                match lx.peek("a value") {
                    Ok(_) => p = lx.pos,
                    Err(Stop::More) => return (lx.pos, RunEnd::More),
                    Err(bad) => return (lx.pos, RunEnd::Bad(bad)),
                }
            }
            Ok(b']') => return (after, RunEnd::Close),
            Ok(_) => {
                let bad = Stop::Bad {
                    pos: lx.pos,
                    expected: "',' or ']'",
                };
                return (after, RunEnd::Bad(bad));
            }
            // The separator is past the window: the record is complete, its follower is not
            // known yet; resume at the separator (the step keeps this record).
            Err(Stop::More) => return (after, RunEnd::MoreSeparator),
            Err(bad) => return (after, RunEnd::Bad(bad)),
        }
    }
}

fn first_non_ws(buf: &[u8], p: usize) -> usize {
    p + buf[p..]
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'))
        .unwrap_or(buf.len() - p)
}

/// A guessed record start at or after `from`: a `{` that follows `}` and `,` (with whitespace
/// around). Only a guess: it may lie inside a record.
fn guess_record_start(buf: &[u8], from: usize) -> Option<usize> {
    let mut p = from;
    loop {
        p += memchr::memchr(b',', buf.get(p..)?)?;
        let before = buf[..p]
            .iter()
            .rev()
            .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        let after = buf[p + 1..]
            .iter()
            .position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
        if let (Some(b'}'), Some(k)) = (before, after) {
            if buf[p + 1 + k] == b'{' {
                return Some(p + 1 + k);
            }
        }
        p += 1;
    }
}

/// Parses the records of the window from `start` on the pool: a few segments per thread, each
/// confirmed by the segment before it ending exactly where it starts; returns the records in
/// file order as one run.
fn parse_runs(buf: &[u8], start: usize, eof: bool, kind: Kind, base: u64) -> Run {
    let threads = parallel::num_threads();
    let len = buf.len().saturating_sub(start);
    if threads < 2 || !parallel::worth_parallel(threads, len) {
        return parse_run(buf, start, eof, kind, base);
    }
    // A few segments per thread, so that one slow segment does not leave the others idle.
    let segments = threads * SEGMENTS_PER_THREAD;
    let mut starts = vec![start];
    for i in 1..segments {
        let from = start + len * i / segments;
        match guess_record_start(buf, from.max(starts[starts.len() - 1] + 1)) {
            Some(s) => starts.push(s),
            None => break,
        }
    }
    // Segment i ends where segment i+1 starts (it sees the window up to there, as if the
    // window ended: a confirmed boundary is a clean `More` at exactly that position).
    let segments: Vec<(usize, usize, bool)> = starts
        .iter()
        .enumerate()
        .map(|(i, &s)| match starts.get(i + 1) {
            Some(&next) => (s, next, false),
            None => (s, buf.len(), eof),
        })
        .collect();
    let runs: Vec<Run> = parallel::install(|| {
        segments
            .par_iter()
            .map(|&(s, e, seg_eof)| parse_run(&buf[..e], s, seg_eof, kind, base))
            .collect()
    });
    let mut merged: Option<Run> = None;
    for (run, &(s, _, _)) in runs.into_iter().zip(&segments) {
        match merged.as_mut() {
            None => merged = Some(run),
            Some(m) if m.end == RunEnd::More && m.resume == s => {
                m.parts.extend(run.parts);
                m.resume = run.resume;
                m.end = run.end;
            }
            // The guess was wrong: what was confirmed so far stands; the step goes on from
            // there (the rest is parsed again in the next step).
            Some(_) => break,
        }
    }
    match merged {
        // The first segment found no whole record before the next guess (its first record
        // runs past it): only a walk over the whole window can tell whether the window holds
        // that record (at the end of the input, asking for more bytes would never end).
        Some(m) if m.len() > 0 => m,
        _ => parse_run(buf, start, eof, kind, base),
    }
}

fn io_error(e: std::io::Error) -> Error {
    Error::Io {
        path: String::new(),
        message: e.to_string(),
    }
}

/// One step of the pass. Nothing in `out` changes unless the step completes.
fn step(
    lx: &mut Lexer<'_>,
    state: State,
    out: &mut Scanned,
    base: u64,
    problems: &mut Problems,
) -> Step<State> {
    let at = |lx: &Lexer<'_>| base + lx.pos as u64;
    if !matches!(state, State::Element(_, Some(_))) {
        out.flush(problems);
    }
    match state {
        State::Start => {
            if lx.peek("a JSON value")? != b'{' {
                // pycocotools asserts that the document is a dict; say so at once.
                return wrong_document(lx, problems, "a JSON object at the top level");
            }
            lx.pos += 1;
            Ok(State::FirstKey)
        }
        State::StartResults => {
            if lx.peek("a JSON value")? != b'[' {
                // pycocotools asserts that results are a list.
                return wrong_document(lx, problems, "a JSON list of results at the top level");
            }
            let start = at(lx);
            lx.pos += 1;
            out.top.push(TopEntry {
                key: Kind::Results.key().into(),
                start,
                end: start,
            });
            Ok(State::ArrayFirst(0, Some(Kind::Results)))
        }
        State::FirstKey => {
            if lx.peek("a key or '}'")? == b'}' {
                lx.pos += 1;
                return Ok(State::End);
            }
            step(lx, State::Key, out, base, problems)
        }
        State::Key => {
            if lx.peek("a key (a string)")? != b'"' {
                return Err(Stop::Bad {
                    pos: lx.pos,
                    expected: "a key (a string)",
                });
            }
            let key = lx.key()?;
            lx.expect(b':', "':' after a key")?;
            lx.peek("a value")?;
            let start = at(lx);
            // A repeated key keeps its first position and takes the last value, as a dict does.
            let entry = match out.top.iter().position(|e| e.key == key) {
                Some(i) => {
                    out.top[i].start = start;
                    i
                }
                None => {
                    out.top.push(TopEntry {
                        key,
                        start,
                        end: start,
                    });
                    out.top.len() - 1
                }
            };
            Ok(State::Value(entry))
        }
        State::Value(entry) => {
            let kind = Kind::of_key(&out.top[entry].key);
            if lx.peek("a value")? == b'[' {
                lx.pos += 1;
                if let Some(kind) = kind {
                    // A repeated array replaces the earlier one, problems included.
                    *out.records_mut(kind) = Records::default();
                    *problems.of(kind) = None;
                }
                return Ok(State::ArrayFirst(entry, kind));
            }
            lx.skip_value(1)?;
            if let Some(kind) = kind {
                *out.records_mut(kind) = Records::default();
                *problems.of(kind) = Some(Error::Schema {
                    path: String::new(),
                    record: format!("'{}'", kind.key()),
                    field: String::new(),
                    expected: "a list of objects".into(),
                });
            }
            out.top[entry].end = at(lx);
            Ok(State::AfterMember)
        }
        State::ArrayFirst(entry, kind) => {
            if lx.peek("a value or ']'")? == b']' {
                lx.pos += 1;
                return finish_array(lx, out, base, entry, kind);
            }
            Ok(State::Element(entry, kind))
        }
        State::Element(entry, None) => {
            lx.skip_value(1)?;
            Ok(State::AfterElement(entry, None))
        }
        State::Element(entry, Some(kind)) => {
            lx.peek("a value")?;
            // As many records as the window holds, in one step; the previous run's records
            // are copied into their columns meanwhile (a sequential copy between parallel
            // parses left a thread idle for the copy and the first touch of the columns'
            // pages: about a tenth of the pass).
            // (Runs of one array follow each other; a run of another kind goes in first.)
            if out.pending.as_ref().is_some_and(|(k, _)| *k != kind) {
                out.flush(problems);
            }
            let pending = out.pending.take();
            let (buf, pos, eof) = (lx.buf, lx.pos, lx.eof);
            let recs = out.records_mut(kind);
            let problem = problems.of(kind);
            let (run, ()) = parallel::install(|| {
                rayon::join(
                    || parse_runs(buf, pos, eof, kind, base),
                    || {
                        if let Some((_, parts)) = pending {
                            Scanned::append_parts(recs, problem, kind, parts);
                        }
                    },
                )
            });
            if run.len() == 0 {
                return Err(match run.end {
                    RunEnd::Bad(stop) => stop,
                    RunEnd::Close | RunEnd::More | RunEnd::MoreSeparator => Stop::More,
                });
            }
            let size = out.size;
            let recs = out.records_mut(kind);
            if recs.offsets.is_empty() && matches!(kind, Kind::Annotations | Kind::Results) {
                // The first records of the big array (usually the last but `categories`):
                // columns for as many as the rest of the input would hold at this density,
                // with a margin (pages never written are not resident, and the columns are
                // shrunk to fit at the end).
                let n = run.len();
                let bytes = run.resume.saturating_sub(lx.pos).max(1) as u64;
                let left = size.saturating_sub(base + lx.pos as u64);
                let estimate = (n as u64).saturating_mul(left) / bytes;
                let estimate = estimate.saturating_add(estimate / 4).min(left / 16);
                recs.reserve(kind, usize::try_from(estimate).unwrap_or(0));
            }
            out.pending = Some((kind, run.parts));
            lx.pos = run.resume;
            match run.end {
                RunEnd::Close => Ok(State::AfterElement(entry, Some(kind))),
                // `resume` is the next record's start, or the separator if it was cut off.
                RunEnd::More => Ok(State::Element(entry, Some(kind))),
                RunEnd::MoreSeparator => Ok(State::AfterElement(entry, Some(kind))),
                RunEnd::Bad(stop) => Err(stop),
            }
        }
        State::AfterElement(entry, kind) => match lx.peek("',' or ']'")? {
            b',' => {
                lx.pos += 1;
                Ok(State::Element(entry, kind))
            }
            b']' => {
                lx.pos += 1;
                finish_array(lx, out, base, entry, kind)
            }
            _ => Err(Stop::Bad {
                pos: lx.pos,
                expected: "',' or ']'",
            }),
        },
        State::AfterMember => match lx.peek("',' or '}'")? {
            b',' => {
                lx.pos += 1;
                Ok(State::Key)
            }
            b'}' => {
                lx.pos += 1;
                Ok(State::End)
            }
            _ => Err(Stop::Bad {
                pos: lx.pos,
                expected: "',' or '}'",
            }),
        },
        State::End => {
            if lx.at_end()? {
                Ok(State::Done)
            } else {
                Err(Stop::Bad {
                    pos: lx.pos,
                    expected: "the end of the document (extra data after the top-level object)",
                })
            }
        }
        State::Done => Ok(State::Done),
    }
}

/// A top-level value of the wrong kind: noted (reported once the document proves to be valid
/// JSON) and skipped.
fn wrong_document(lx: &mut Lexer<'_>, problems: &mut Problems, expected: &str) -> Step<State> {
    problems.document = Some(Error::Schema {
        path: String::new(),
        record: "the document".into(),
        field: String::new(),
        expected: expected.into(),
    });
    lx.skip_value(0)?;
    Ok(State::End)
}

fn finish_array(
    lx: &Lexer<'_>,
    out: &mut Scanned,
    base: u64,
    entry: usize,
    kind: Option<Kind>,
) -> Step<State> {
    let end = base + lx.pos as u64;
    out.top[entry].end = end;
    if let Some(kind) = kind {
        out.records_mut(kind).end = end - 1;
    }
    if kind == Some(Kind::Results) {
        return Ok(State::End);
    }
    Ok(State::AfterMember)
}

/// An optional field's value for its column (the default where it is absent), setting its
/// presence bit.
fn present<T: Default>(value: Option<T>, flags: &mut u8, bit: u8) -> T {
    if value.is_some() {
        *flags |= bit;
    }
    value.unwrap_or_default()
}

/// Appends one record's columns, noting its first schema problem.
fn push_record(
    recs: &mut Records,
    kind: Kind,
    start: u64,
    f: Fields,
    problem: &mut Option<Pending>,
) {
    let index = recs.offsets.len();
    let mut note = |field: &'static str, expected: &'static str| {
        problem.get_or_insert(Pending {
            index,
            id: f.id,
            field,
            expected,
        });
    };
    if let Some(p) = f.problems.first() {
        note(p.field, p.expected);
    }
    if kind != Kind::Results && f.id.is_none() && !f.has_problem("id") {
        note("id", "an 'id' field (an integer)");
    }
    let annotations = matches!(kind, Kind::Annotations | Kind::Results);
    if annotations && f.image_id.is_none() && !f.has_problem("image_id") {
        note("image_id", "an 'image_id' field (an integer)");
    }
    recs.offsets.push(start);
    // `loadRes` numbers results from 1 in file order: see [`Records::append`].
    if kind != Kind::Results {
        recs.id.push(f.id.unwrap_or(0));
    }
    match kind {
        Kind::Annotations | Kind::Results => {
            let mut flags = 0u8;
            recs.image_id.push(f.image_id.unwrap_or(0));
            recs.category_id
                .push(present(f.category_id, &mut flags, flag::HAS_CATEGORY));
            recs.bbox.push(present(f.bbox, &mut flags, flag::HAS_BBOX));
            if kind == Kind::Results {
                recs.score
                    .push(present(f.score, &mut flags, flag::HAS_SCORE));
                if f.segmentation {
                    flags |= flag::HAS_SEGMENTATION;
                }
                recs.flags.push(flags);
                return;
            }
            recs.area.push(present(f.area, &mut flags, flag::HAS_AREA));
            flags |= f.num_keypoints;
            // Sparse: only records with keypoints, and only where row and place fit 32 bits
            // (others are read by walking the record).
            if let (Some(at), Ok(row)) = (f.keypoints, u32::try_from(index)) {
                recs.keypoints.push((row, at));
            }
            if let Some((crowd, as_bool)) = f.iscrowd {
                flags |= flag::HAS_ISCROWD;
                if crowd {
                    flags |= flag::ISCROWD;
                }
                if as_bool {
                    flags |= flag::ISCROWD_BOOL;
                }
            }
            recs.flags.push(flags);
        }
        Kind::Images => {
            let mut flags = 0u8;
            recs.width
                .push(present(f.width, &mut flags, flag::HAS_WIDTH));
            recs.height
                .push(present(f.height, &mut flags, flag::HAS_HEIGHT));
            recs.flags.push(flags);
        }
        Kind::Categories => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = r#" {"info": {"v": 1}, "images": [{"id": 7, "width": 640, "height": 480},
      {"height": 2, "id": 3}], "annotations": [
      {"segmentation": [[1.5, 2, 3e1, 4, 5, 6]], "area": 12.25, "iscrowd": 0, "image_id": 7,
       "bbox": [1, 2, 3.5, 4], "category_id": 18, "id": 1},
      {"id": 2, "image_id": 3, "iscrowd": true, "x": "\u00e9\"[{"}],
      "categories": [{"id": 18, "name": "dog"}], "extra": [[1], {"a": []}]} "#;

    fn scan_all(doc: &str, chunk: usize) -> Result<Scanned> {
        scan(doc.as_bytes(), chunk, Document::Coco)
    }

    #[test]
    fn columns_and_offsets_at_every_chunk_size() {
        for chunk in [1, 2, 3, 7, 64, 4096] {
            let s = scan_all(DOC, chunk).unwrap();
            let keys: Vec<&str> = s.top.iter().map(|e| e.key.as_str()).collect();
            assert_eq!(
                keys,
                ["info", "images", "annotations", "categories", "extra"]
            );
            assert_eq!(s.images.id.to_vec(), [7, 3]);
            assert_eq!(s.images.width, [640, 0]);
            assert_eq!(s.images.flags, [3, 2]);
            let a = &s.annotations;
            assert_eq!(a.id.to_vec(), [1, 2]);
            assert_eq!(a.image_id.to_vec(), [7, 3]);
            assert_eq!(a.area[0], 12.25);
            assert_eq!(a.bbox.get(0), [1.0, 2.0, 3.5, 4.0]);
            assert_eq!(
                a.flags[1],
                flag::HAS_ISCROWD | flag::ISCROWD | flag::ISCROWD_BOOL
            );
            assert_eq!(s.categories.id.to_vec(), [18]);
            let info = &s.top[0];
            assert_eq!(&DOC[info.start as usize..info.end as usize], r#"{"v": 1}"#);
            assert_eq!(
                &DOC[a.offsets.get(1).unwrap() as usize..][..8],
                r#"{"id": 2"#
            );
            assert_eq!(DOC.as_bytes()[a.end as usize], b']');
        }
    }

    #[test]
    fn parse_errors_carry_offsets() {
        let e = scan_all(r#"{"images": [{"id": 1},, ]}"#, 5).unwrap_err();
        assert_eq!(
            e,
            Error::Parse {
                path: String::new(),
                offset: 22,
                line: 0,
                column: 0,
                expected: "a value"
            }
        );
        let e = scan_all(r#"{"a": 1"#, 3).unwrap_err();
        assert!(matches!(e, Error::Parse { offset: 7, .. }));
        assert!(matches!(
            scan_all("{} x", 2),
            Err(Error::Parse { offset: 3, .. })
        ));
    }

    #[test]
    fn schema_errors_wait_for_valid_json() {
        let e = scan_all(r#"{"annotations": [{"id": "1", "image_id": 2}]}"#, 4).unwrap_err();
        assert!(
            matches!(&e, Error::Schema { record, field, .. } if record == "annotations[0]" && field == "id")
        );
        // Malformed JSON later in the file wins over the schema problem.
        let e = scan_all(
            r#"{"annotations": [{"id": "1", "image_id": 2}], "x": tru}"#,
            4,
        )
        .unwrap_err();
        assert!(matches!(e, Error::Parse { .. }));
        let e = scan_all(
            r#"{"annotations": [{"id": 1, "image_id": 2, "bbox": [1,2,3]}]}"#,
            64,
        )
        .unwrap_err();
        assert!(
            matches!(&e, Error::Schema { record, field, .. } if record == "annotations[0] (id 1)" && field == "bbox")
        );
        assert!(matches!(scan_all("[1]", 64), Err(Error::Schema { .. })));
        assert!(matches!(
            scan_all(r#"{"images": 3}"#, 64),
            Err(Error::Schema { .. })
        ));
    }

    #[test]
    fn keys_in_any_order_and_form_read_as_written() {
        let _threads = crate::parallel::TEST_THREADS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Records that mostly repeat the previous record's key order (the predicted path)
        // and sometimes change it, with keys written plainly, with a space before the ':',
        // with an escape (`"i\u0064"` is "id"), decoys sharing a prefix (`"idx"`, `"id_"`,
        // `"image_idx"`), keys too long for a prediction, and repeated keys (the last value
        // wins): every column holds what the record says, at any chunk size and thread count.
        let mut rng = crate::test_rng::Rng::new(0x6b65_795f_6f72_6472);
        let mut doc = String::from("{\"annotations\": [");
        let mut want = Vec::new();
        let mut order: Vec<usize> = (0..6).collect();
        for i in 0..1500i64 {
            if rng.below(6) == 0 {
                for k in (1..order.len()).rev() {
                    order.swap(k, rng.below(k as u64 + 1) as usize);
                }
            }
            let (id, image_id, category_id) = (i, 3 * i + 1, i % 7);
            let area = i as f64 + 0.5;
            let mut members = Vec::new();
            for &k in &order {
                let form = rng.below(8);
                let key = |plain: &str, escaped: &str| match form {
                    0 => format!("\"{escaped}\" :"),
                    1 => format!("\"{plain}\"\n:"),
                    _ => format!("\"{plain}\":"),
                };
                members.push(match k {
                    0 => format!("{} {id}", key("id", "i\\u0064")),
                    1 => format!("{} {image_id}", key("image_id", "image\\u005fid")),
                    2 => format!("{}{category_id}", key("category_id", "category_i\\u0064")),
                    3 => format!("{} {area}", key("area", "\\u0061rea")),
                    4 => r#""idx": 5, "id_": 6, "image_idx": 7, "a_key_too_long_to_predict": 8"#
                        .to_owned(),
                    _ => format!("{}[1, 2, 3, {i}]", key("bbox", "bbo\\u0078")),
                });
            }
            // Sometimes a key twice: a wrong value first, the record's value last.
            if rng.below(10) == 0 {
                members.insert(0, "\"category_id\": 99".to_owned());
            }
            if i > 0 {
                doc.push(',');
            }
            doc.push_str(&format!("{{{}}}", members.join(", ")));
            want.push((id, image_id, category_id, area, i as f64));
        }
        doc.push_str("]}");
        for (threads, chunk) in [(1, 1 << 20), (2, 1 << 20), (2, 4096), (3, 333)] {
            crate::parallel::set_num_threads(threads);
            let s = scan_all(&doc, chunk).unwrap();
            let a = &s.annotations;
            assert_eq!(a.offsets.len(), want.len());
            for (r, &(id, image_id, category_id, area, h)) in want.iter().enumerate() {
                let got = (
                    a.id.get(r),
                    a.image_id.get(r),
                    a.category_id.get(r),
                    a.area[r],
                );
                assert_eq!(
                    got,
                    (id, image_id, category_id, area),
                    "row {r}, {threads} threads"
                );
                assert_eq!(a.bbox.get(r), [1.0, 2.0, 3.0, h], "row {r}");
            }
        }
        crate::parallel::set_num_threads(0);
    }

    #[test]
    fn speculative_segments_give_the_sequential_result() {
        let _threads = crate::parallel::TEST_THREADS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // Records with `},{` inside strings and nested lists of objects, so that many guessed
        // boundaries are wrong.
        let mut doc = String::from("{\"annotations\": [");
        for i in 0..3000 {
            if i > 0 {
                doc.push_str(if i % 7 == 0 { " ,\n " } else { "," });
            }
            let extra = match i % 3 {
                0 => r#""s": "},{\"},{", "#.to_owned(),
                1 => r#""x": [{"a": 1},{"b": [{"c": 2} , {"d": "}"}]}], "#.to_owned(),
                _ => String::new(),
            };
            // Some 12-digit ids (kept aside in the narrow column) and boxes kept whole.
            let id = if i % 97 == 0 {
                900_100_000_000 + i64::from(i)
            } else {
                3000 - i64::from(i)
            };
            let w = if i % 89 == 0 { "1e1" } else { "3" };
            doc.push_str(&format!(
                r#"{{{extra}"id": {id}, "image_id": {}, "area": {i}.5, "bbox": [1, 2, {w}, {i}], "segmentation": [[1.25, 2, 3, 4, 5, 6]]}}"#,
                i % 11,
            ));
        }
        doc.push_str("]}");
        let results: Vec<Scanned> = [(1, 1 << 20), (4, 1 << 20), (2, 4096), (3, 777)]
            .iter()
            .map(|&(threads, chunk)| {
                crate::parallel::set_num_threads(threads);
                scan_all(&doc, chunk).unwrap()
            })
            .collect();
        crate::parallel::set_num_threads(0);
        let a = &results[0].annotations;
        assert_eq!(a.offsets.len(), 3000);
        for other in &results[1..] {
            let b = &other.annotations;
            assert_eq!(a.offsets, b.offsets);
            assert_eq!(a.id.to_vec(), b.id.to_vec());
            assert_eq!(a.image_id.to_vec(), b.image_id.to_vec());
            assert_eq!(a.area, b.area);
            assert_eq!(a.bbox, b.bbox);
            assert_eq!(a.end, b.end);
        }
        assert_eq!(a.id.get(97), 900_100_000_097);
        assert_eq!(a.bbox.get(89)[2], 10.0);
        // A schema problem far into the file names its row in the whole array, and results
        // are numbered from 1 across segments.
        let wrong = doc.replacen("[1, 2, 3, 2500]", "[1, 2, 2500]", 1);
        let results = format!("[{}]", &doc["{\"annotations\": [".len()..doc.len() - 2]);
        for (threads, chunk) in [(1, 1 << 20), (2, 1 << 20), (3, 777)] {
            crate::parallel::set_num_threads(threads);
            let e = scan_all(&wrong, chunk).unwrap_err();
            assert!(
                matches!(&e, Error::Schema { record, field, .. } if record == "annotations[2500] (id 500)" && field == "bbox"),
                "{e:?}"
            );
            let r = scan(results.as_bytes(), chunk, Document::Results).unwrap();
            assert_eq!(r.annotations.id.to_vec(), (1..=3000).collect::<Vec<i64>>());
            let shift = "{\"annotations\": ".len() as u64;
            for row in [0, 1, 1499, 2999] {
                assert_eq!(
                    r.annotations.offsets.get(row).map(|o| o + shift),
                    a.offsets.get(row)
                );
            }
        }
        crate::parallel::set_num_threads(0);
        // And a malformed record far into the file is found wherever the segments fall.
        let bad = doc.replacen(r#""area": 2000.5"#, r#""area": 2000.5.5"#, 1);
        let offset = bad.find("2000.5.5").unwrap() as u64 + 6;
        for threads in [1, 2, 4] {
            crate::parallel::set_num_threads(threads);
            let found = scan_all(&bad, 1 << 16).map(|_| ());
            assert!(
                matches!(found, Err(Error::Parse { offset: o, .. }) if o == offset),
                "{found:?}"
            );
        }
        crate::parallel::set_num_threads(0);
    }

    #[test]
    fn repeated_keys_last_value_first_position() {
        let s = scan_all(
            r#"{"images": [{"id": 1}], "a": 0, "images": [{"id": 2}]}"#,
            3,
        )
        .unwrap();
        assert_eq!(s.top.len(), 2);
        assert_eq!(s.top[0].key, "images");
        assert_eq!(s.images.id.to_vec(), [2]);
    }

    #[test]
    fn boxes_equal_the_parsed_numbers_in_every_form() {
        let boxes = [
            "[1, 2.5, 30.25, 4.125]",
            "[1e2, 0.1, -1.5, 2]",
            "[1.23456, 0, 1073741823, 7]",
            "[-0.0, 5.10, 1E+1, 0.333]",
            "[12.5, 1.0, 2.0, 3]",
        ];
        let anns: Vec<String> = boxes
            .iter()
            .enumerate()
            .map(|(i, b)| format!(r#"{{"id": {i}, "image_id": 1, "bbox": {b}}}"#))
            .collect();
        let doc = format!(r#"{{"annotations": [{}]}}"#, anns.join(","));
        for chunk in [7, 64, 4096] {
            let a = scan_all(&doc, chunk).unwrap().annotations;
            for (r, b) in boxes.iter().enumerate() {
                let want: Vec<u64> = b
                    .trim_matches(|c| c == '[' || c == ']')
                    .split(", ")
                    .map(|t| t.parse::<f64>().unwrap().to_bits())
                    .collect();
                assert_eq!(a.bbox.get(r).map(f64::to_bits).to_vec(), want, "{b}");
            }
            // Only the boxes with a number that has no code are kept whole.
            assert!(matches!(&a.bbox, Boxes::Compact { whole, .. } if whole.len() == 3));
        }
    }

    #[test]
    fn records_far_larger_than_a_chunk_grow_the_window() {
        let poly: Vec<String> = (0..20_000).map(|i| format!("{i}.5")).collect();
        let doc = format!(
            r#"{{"annotations": [{{"id": 1, "image_id": 1}}, {{"id": 2, "image_id": 1, "segmentation": [[{}]], "bbox": [1, 2, 3, 4]}}, {{"id": 3, "image_id": 2}}], "images": []}}"#,
            poly.join(", ")
        );
        let whole = scan_all(&doc, 1 << 20).unwrap();
        for chunk in [64, 1000, 50_000] {
            let a = scan_all(&doc, chunk).unwrap();
            assert_eq!(a.annotations.offsets, whole.annotations.offsets);
            assert_eq!(a.annotations.id.to_vec(), [1, 2, 3]);
            assert_eq!(a.annotations.bbox.get(1), [1.0, 2.0, 3.0, 4.0]);
            assert_eq!(a.len, doc.len() as u64);
        }
        let e = scan_all(&doc[..doc.len() - 30], 64).unwrap_err();
        assert!(matches!(e, Error::Parse { .. }), "{e:?}");
    }

    #[test]
    fn a_last_record_spanning_every_guess_ends() {
        let _threads = crate::parallel::TEST_THREADS
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        // One record larger than the parallel threshold whose `},{` (a list of objects) sit
        // where the segments are guessed: the first segment ends inside it with no record.
        // At the end of the input that once asked for more bytes forever.
        let items: Vec<String> = (0..3000).map(|i| format!(r#"{{"a": {i}}}"#)).collect();
        let doc = format!(
            r#"{{"annotations": [{{"id": 1, "image_id": 2, "x": [{}]}}]}}"#,
            items.join(",")
        );
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            crate::parallel::set_num_threads(2);
            let _ = tx.send(scan_all(&doc, 1 << 20).map(|s| s.annotations.id.to_vec()));
        });
        let got = rx.recv_timeout(std::time::Duration::from_secs(60));
        assert!(matches!(&got, Ok(Ok(ids)) if ids == &[1]), "{got:?}");
    }
}
