//! The lazy index of a COCO JSON file: one chunked pass ([`scan`]) validates the document and
//! records where every record lives plus compact columns; records are parsed ([`json`]) only
//! when someone asks for them, from the bytes of the file ([`source`]).
//!
//! Memory per annotation: file offset 4, id / image_id / category_id 4 each (a value that does
//! not fit 32 bits, such as COCO's 12-digit crowd ids, 12 more, kept aside), area 8, bbox 16
//! (decimal codes; a box whose numbers have none, 32 more), flags 1, the image grouping 4, and
//! 4 more for the id lookup only when ids are not in increasing order, and 8 per annotation
//! that has `keypoints` (where they lie in the record): 41 to 53 bytes.

pub mod columns;
pub mod json;
pub mod results;
pub mod scan;
pub mod segm;
pub mod source;

use std::path::Path;
use std::sync::Arc;

use rayon::prelude::*;

use columns::{distinct_in_order, Boxes, Groups, IdLookup, IntColumn, Offsets};

use json::{Stop, Value};
pub use results::Branch;
pub use scan::{flag, Document, Kind};
use scan::{Records, Scanned};
use source::Source;

use crate::error::{Error, Result};
use crate::eval::Keypoints;
use crate::parallel;
use crate::rle::{Packed, Rle};

/// Bytes read per step of the scan.
const CHUNK: usize = 2 << 20;
/// Largest single read when records are materialised in a batch.
const BATCH_READ: u64 = 1 << 20;
/// Most bytes of unwanted records a batch read may span between two wanted ones.
const MAX_READ_GAP: u64 = 16 << 10;

thread_local! {
    /// The buffer batched reads of records go through on this thread. Kept rather than made
    /// per batch: a fresh buffer is zeroed before the read fills it and, in a new process,
    /// faults in every page (a fresh megabyte cost about a millisecond here, and reading a
    /// file's records made one for most batches).
    static READ_BUFFER: std::cell::Cell<Vec<u8>> = const { std::cell::Cell::new(Vec::new()) };
}

/// Runs `f` with this thread's read buffer (taken out meanwhile, so a read nested in `f`, or
/// one on a thread being torn down, gets a fresh one), and puts it back unless a record
/// larger than a batch grew it past twice a batch.
fn with_read_buffer<T>(f: impl FnOnce(&mut Vec<u8>) -> T) -> T {
    let mut buf = READ_BUFFER.try_with(|cell| cell.take()).unwrap_or_default();
    let out = f(&mut buf);
    if buf.len() as u64 <= 2 * BATCH_READ {
        // (Fails only on a thread being torn down: the buffer is dropped then.)
        let _ = READ_BUFFER.try_with(|cell| cell.set(buf));
    }
    out
}

/// Where the records of one array live and their ids.
#[derive(Debug, Default)]
pub struct Table {
    pub ids: IntColumn,
    lookup: IdLookup,
    offsets: Offsets,
    end: u64,
}

impl Table {
    fn new(recs: &mut Records) -> Table {
        let mut ids = std::mem::take(&mut recs.id);
        ids.shrink_to_fit();
        let lookup = IdLookup::new(&ids);
        let mut offsets = std::mem::take(&mut recs.offsets);
        offsets.shrink_to_fit();
        Table {
            ids,
            lookup,
            offsets,
            end: recs.end,
        }
    }

    pub fn len(&self) -> usize {
        self.offsets.len()
    }

    pub fn is_empty(&self) -> bool {
        self.offsets.is_empty()
    }

    /// The row of record `id` (the last one if the id repeats).
    pub fn row(&self, id: i64) -> Option<usize> {
        self.lookup.find(&self.ids, id)
    }

    pub fn has_duplicate_ids(&self) -> bool {
        self.lookup.has_duplicates()
    }

    /// Bytes of the file that hold record `row` (up to where the next one starts).
    fn span(&self, row: usize) -> (u64, u64) {
        let start = self.offsets.get(row).unwrap_or(self.end);
        let end = self.offsets.get(row + 1).unwrap_or(self.end);
        (start, end)
    }

    fn bytes(&self) -> usize {
        self.ids.bytes() + self.lookup.bytes() + self.offsets.bytes()
    }
}

/// Columns of the annotations.
#[derive(Debug, Default)]
pub struct AnnColumns {
    pub image_id: IntColumn,
    pub category_id: IntColumn,
    /// Shared (not copied) with the evaluations that read them.
    pub area: Arc<Vec<f64>>,
    pub bbox: Boxes,
    /// Detection scores (results files only; empty otherwise).
    pub score: Arc<Vec<f64>>,
    /// [`flag`] bits: which optional fields exist, the crowd flag.
    pub flags: Vec<u8>,
    /// (row, place of its `keypoints` value in the record) of the records that have one, by
    /// row.
    pub keypoints: Vec<(u32, u32)>,
}

/// Columns of the images.
#[derive(Debug, Default)]
pub struct ImgColumns {
    pub width: Vec<u32>,
    pub height: Vec<u32>,
    pub flags: Vec<u8>,
}

/// One top-level member of the document.
#[derive(Debug, Clone)]
pub struct Member {
    pub key: String,
    start: u64,
    end: u64,
    /// The record array it is, if it is `images`, `annotations` or `categories` (a list).
    pub kind: Option<Kind>,
}

/// An indexed COCO file. Immutable once built, so it can be shared between threads.
#[derive(Debug)]
pub struct Index {
    source: Source,
    pub members: Vec<Member>,
    pub images: Table,
    pub annotations: Table,
    pub categories: Table,
    pub ann: AnnColumns,
    pub img: ImgColumns,
    /// Annotations grouped by image_id, keys in first-appearance order (`imgToAnns`).
    pub by_image: Groups,
    /// Distinct category ids of the annotations in first-appearance order (`catToImgs` keys);
    /// empty when the document has no `categories` (pycocotools then builds no `catToImgs`).
    pub category_keys: Vec<i64>,
    /// For a results file ([`Index::open_results`]), the `loadRes` branch it takes.
    pub results: Option<Branch>,
    /// For results of the segm branch, their masks (as compact strings).
    pub result_masks: Option<Arc<Packed>>,
    /// For results of the keypoints branch, their keypoints (read once, for the areas).
    pub result_keypoints: Option<Arc<Keypoints>>,
}

fn shrink_ints(mut v: IntColumn) -> IntColumn {
    v.shrink_to_fit();
    v
}

fn shrink<T>(mut v: Vec<T>) -> Vec<T> {
    v.shrink_to_fit();
    v
}

/// How [`Index::annotation_keypoints`] read one record's `keypoints`.
#[derive(Debug, Clone, PartialEq)]
pub enum KeypointsRead {
    /// A non-empty list of numbers with a visible keypoint (some `v > 0`): the next this many
    /// values of its batch.
    Numbers(usize),
    /// A non-empty list of this many numbers without a visible keypoint (no `v > 0` among
    /// its triples): its values are not kept, since OKS reads nothing of them but that
    /// (it measures such a ground truth from its box). A third of the people of COCO-like
    /// data, and their values would be fresh memory, and cache, to fill.
    Hidden(usize),
    /// No `keypoints` member.
    Absent,
    /// Any other value, as [`json::numeric_member`] reads it.
    Other(json::Member),
}

/// The keypoints of a batch of records read together: the number lists' values one after
/// another, and each record's read.
#[derive(Debug, Clone, Default)]
pub struct KeypointsBatch {
    pub values: Vec<f64>,
    pub reads: Vec<KeypointsRead>,
}

impl Index {
    /// Indexes the COCO JSON file at `path` (plain or gzip) in one pass.
    pub fn open(path: &Path) -> Result<Index> {
        let source = Source::open(path)?;
        let scanned = scan::scan_sized(source.reader(), source.len(), CHUNK, Document::Coco)
            .map_err(|e| locate(&source, e))?;
        Index::build(source, scanned).map_err(|e| e.in_path(&path.display().to_string()))
    }

    /// Indexes a results file (a JSON list of detections, as `loadRes` reads it) in one pass,
    /// with the columns `loadRes` derives (see [`results`]).
    pub fn open_results(path: &Path) -> Result<Index> {
        let source = Source::open(path)?;
        let scanned = scan::scan_sized(source.reader(), source.len(), CHUNK, Document::Results)
            .map_err(|e| locate(&source, e))?;
        let mut index =
            Index::build(source, scanned).map_err(|e| e.in_path(&path.display().to_string()))?;
        index.derive_results()?;
        Ok(index)
    }

    fn build(source: Source, mut s: Scanned) -> Result<Index> {
        let has_categories = s.has_key("categories");
        if has_categories {
            // pycocotools reads category_id of every annotation when there are categories.
            if let Some(i) = s
                .annotations
                .flags
                .iter()
                .position(|f| f & flag::HAS_CATEGORY == 0)
            {
                return Err(Error::Schema {
                    path: String::new(),
                    record: format!("annotations[{i}] (id {})", s.annotations.id.get(i)),
                    field: "category_id".into(),
                    expected: "a 'category_id' field (an integer), as the document has categories"
                        .into(),
                });
            }
        }
        // A known key whose value is not a list was a schema error: here each is a list.
        let members = s
            .top
            .iter()
            .map(|e| Member {
                key: e.key.clone(),
                start: e.start,
                end: e.end,
                kind: Kind::of_key(&e.key),
            })
            .collect::<Vec<_>>();
        let a = &mut s.annotations;
        let ann = AnnColumns {
            image_id: shrink_ints(std::mem::take(&mut a.image_id)),
            category_id: shrink_ints(std::mem::take(&mut a.category_id)),
            area: Arc::new(shrink(std::mem::take(&mut a.area))),
            bbox: {
                let mut b = std::mem::take(&mut a.bbox);
                b.shrink_to_fit();
                b
            },
            score: Arc::new(shrink(std::mem::take(&mut a.score))),
            flags: shrink(std::mem::take(&mut a.flags)),
            keypoints: shrink(std::mem::take(&mut a.keypoints)),
        };
        // The id lookups (sorts) and the annotations' groupings are built side by side.
        let i = &mut s.images;
        let ((annotations, images), (by_image, category_keys)) = parallel::install(|| {
            rayon::join(
                || rayon::join(|| Table::new(a), || Table::new(i)),
                || {
                    rayon::join(
                        || Groups::new(&ann.image_id),
                        || {
                            if has_categories {
                                distinct_in_order(&ann.category_id)
                            } else {
                                Vec::new()
                            }
                        },
                    )
                },
            )
        });
        let i = &mut s.images;
        let img = ImgColumns {
            width: i.width.iter().map(|&v| v as u32).collect(),
            height: i.height.iter().map(|&v| v as u32).collect(),
            flags: shrink(std::mem::take(&mut i.flags)),
        };
        let categories = Table::new(&mut s.categories);
        Ok(Index {
            source,
            members,
            images,
            annotations,
            categories,
            ann,
            img,
            by_image,
            category_keys,
            results: None,
            result_masks: None,
            result_keypoints: None,
        })
    }

    pub fn source(&self) -> &Source {
        &self.source
    }

    pub fn table(&self, kind: Kind) -> &Table {
        match kind {
            Kind::Images => &self.images,
            Kind::Annotations | Kind::Results => &self.annotations,
            Kind::Categories => &self.categories,
        }
    }

    pub fn has_member(&self, key: &str) -> bool {
        self.members.iter().any(|m| m.key == key)
    }

    /// Bytes held by the columns and lookups (not counting the interpreter).
    pub fn heap_bytes(&self) -> usize {
        let a = &self.ann;
        self.images.bytes()
            + self.annotations.bytes()
            + self.categories.bytes()
            + a.image_id.bytes()
            + a.category_id.bytes()
            + a.area.capacity() * 8
            + a.bbox.bytes()
            + a.score.capacity() * 8
            + self.result_masks.as_ref().map_or(0, |m| m.heap_bytes())
            + self.result_keypoints.as_ref().map_or(0, |k| k.heap_bytes())
            + a.flags.capacity()
            + a.keypoints.capacity() * 8
            + self.img.width.capacity() * 4
            + self.img.height.capacity() * 4
            + self.img.flags.capacity()
            + self.by_image.bytes()
            + self.category_keys.capacity() * 8
    }

    /// The value of top-level member `key`, parsed from the file.
    pub fn member_value(&self, key: &str) -> Result<Option<Value>> {
        let Some(m) = self.members.iter().find(|m| m.key == key) else {
            return Ok(None);
        };
        let bytes = self.source.read(m.start, m.end)?;
        self.parsed(&bytes, m.start, json::parse_value).map(Some)
    }

    fn parsed<T>(
        &self,
        bytes: &[u8],
        start: u64,
        parse: impl FnOnce(&[u8]) -> json::Step<T>,
    ) -> Result<T> {
        parse(bytes).map_err(|stop| {
            let at = match stop {
                Stop::Bad { pos, .. } => start + pos as u64,
                Stop::More => start + bytes.len() as u64,
            };
            Error::FileChanged {
                path: self.source.path_text(),
                what: format!("the bytes at offset {at} no longer hold the indexed record"),
            }
        })
    }

    /// Records `rows` of `kind`, parsed, in the order given. Neighbouring records are read
    /// from the file together.
    pub fn records(&self, kind: Kind, rows: &[usize]) -> Result<Vec<Value>> {
        self.parse_rows(kind, rows, json::parse_value)
    }

    /// Records `rows` of `kind`, each parsed by `parse` from its bytes, in the order given.
    /// Neighbouring records are read from the file together.
    fn parse_rows<T: Send>(
        &self,
        kind: Kind,
        rows: &[usize],
        parse: impl Fn(&[u8]) -> json::Step<T> + Sync,
    ) -> Result<Vec<T>> {
        self.parse_rows_of(kind, rows, |_, b| parse(b))
    }

    /// [`Self::parse_rows`] with the row passed to `parse` along with its record's bytes.
    fn parse_rows_of<T: Send>(
        &self,
        kind: Kind,
        rows: &[usize],
        parse: impl Fn(usize, &[u8]) -> json::Step<T> + Sync,
    ) -> Result<Vec<T>> {
        let new = |rows: usize, _| Vec::with_capacity(rows);
        let batches = self.fold_rows_of(kind, rows, new, |out: &mut Vec<T>, r, b| {
            out.push(parse(r, b)?);
            Ok(())
        })?;
        let mut out = Vec::with_capacity(rows.len());
        for batch in batches {
            out.extend(batch);
        }
        Ok(out)
    }

    /// Records `rows` of `kind` folded batch by batch: `fold(acc, row, bytes)` for each row
    /// in the order given, into one accumulator (from `new(rows, bytes)`, the batch's row
    /// count and byte length, to size it) per batch of rows read together; the accumulators
    /// in order. Lets a reader put many records' values into one buffer.
    fn fold_rows_of<A: Send>(
        &self,
        kind: Kind,
        rows: &[usize],
        new: impl Fn(usize, usize) -> A + Sync,
        fold: impl Fn(&mut A, usize, &[u8]) -> json::Step<()> + Sync,
    ) -> Result<Vec<A>> {
        let table = self.table(kind);
        if let Some(&bad) = rows.iter().find(|&&r| r >= table.len()) {
            return Err(Error::Schema {
                path: self.source.path_text(),
                record: format!("{}[{bad}]", kind.key()),
                field: String::new(),
                expected: format!("a row below {}", table.len()),
            });
        }
        // Batches of rows read together: extended while the next row comes later in the
        // file and close to the last one (skipping a few records is cheaper than a read per
        // record), up to a size that stays in cache.
        // Each as (first row, end row, first byte, end byte).
        let mut batches: Vec<(usize, usize, u64, u64)> = Vec::new();
        let mut i = 0;
        while i < rows.len() {
            let (start, mut end) = table.span(rows[i]);
            let mut j = i + 1;
            while j < rows.len() && rows[j] > rows[j - 1] {
                let (s, e) = table.span(rows[j]);
                if e - start > BATCH_READ || s - end > MAX_READ_GAP {
                    break;
                }
                end = e;
                j += 1;
            }
            batches.push((i, j, start, end));
            i = j;
        }
        // Each thread reads into its own buffer, kept from call to call ([`with_read_buffer`]).
        let each = |&(i, j, start, end): &(usize, usize, u64, u64)| -> Result<A> {
            with_read_buffer(|buf| {
                let bytes = self.source.read_into(start, end, buf)?;
                let mut acc = new(j - i, bytes.len());
                for &r in &rows[i..j] {
                    let (s, e) = table.span(r);
                    let local = (s - start) as usize..(e - start) as usize;
                    self.parsed(&bytes[local], s, |b| fold(&mut acc, r, b))?;
                }
                Ok(acc)
            })
        };
        let bytes: u64 = batches.iter().map(|b| b.3 - b.2).sum();
        let folded: Vec<Result<A>> =
            if crate::parallel::worth_parallel(batches.len(), bytes as usize / 8) {
                crate::parallel::install(|| batches.par_iter().map(each).collect())
            } else {
                batches.iter().map(each).collect()
            };
        folded.into_iter().collect()
    }

    /// Member `key` of records `rows` of `kind` (None where absent), read as
    /// [`json::parse_numeric_members`] reads it.
    pub fn member_of(
        &self,
        kind: Kind,
        rows: &[usize],
        key: &str,
    ) -> Result<Vec<Option<json::Member>>> {
        self.parse_rows(kind, rows, |b| {
            json::parse_numeric_members(b, &[key]).map(|mut m| m.remove(0))
        })
    }

    /// Annotation rows, in file order, whose `category_id` is one of `cat_ids` (a record
    /// without one reads as category 0, as in the columns).
    pub fn category_rows(&self, cat_ids: &[i64]) -> Vec<usize> {
        let mut wanted = cat_ids.to_vec();
        wanted.sort_unstable();
        wanted.dedup();
        let cats = &self.ann.category_id;
        (0..self.annotations.len())
            .filter(|&r| wanted.binary_search(&cats.get(r)).is_ok())
            .collect()
    }

    /// The `keypoints` of ground-truth annotation records `rows`, for OKS, straight from where
    /// the scan found them (records the scan could not place are walked): lists of numbers
    /// parsed into one buffer per batch of records read together (no list per record), a
    /// list without a visible keypoint only counted ([`KeypointsRead::Hidden`]), anything
    /// else as [`json::numeric_member`] reads it. The batches in order; their reads are in
    /// row order.
    pub fn annotation_keypoints(&self, rows: &[usize]) -> Result<Vec<KeypointsBatch>> {
        let places = &self.ann.keypoints;
        self.fold_rows_of(
            Kind::Annotations,
            rows,
            // Room for a batch of people's keypoints without regrowing: a person's record
            // takes ~800 bytes for 51 values (an overestimate stays untouched pages).
            |rows, bytes| KeypointsBatch {
                values: Vec::with_capacity(bytes / 8),
                reads: Vec::with_capacity(rows),
            },
            |acc, r, b| {
                let found = u32::try_from(r)
                    .ok()
                    .and_then(|r| places.binary_search_by_key(&r, |&(row, _)| row).ok());
                let read = match found {
                    Some(i) => {
                        let mut lx = json::Lexer::new(b, places[i].1 as usize, true);
                        let before = acc.values.len();
                        if json::numbers_into(&mut lx, &mut acc.values)? {
                            let n = acc.values.len() - before;
                            if Keypoints::any_visible(&acc.values[before..]) {
                                KeypointsRead::Numbers(n)
                            } else {
                                acc.values.truncate(before);
                                KeypointsRead::Hidden(n)
                            }
                        } else {
                            KeypointsRead::Other(json::numeric_member(&mut lx)?)
                        }
                    }
                    // Absent, unless the record was too far out to be placed.
                    None if r <= u32::MAX as usize && b.len() <= u32::MAX as usize => {
                        KeypointsRead::Absent
                    }
                    None => match json::parse_numeric_members(b, &["keypoints"])?.remove(0) {
                        Some(m) => KeypointsRead::Other(m),
                        None => KeypointsRead::Absent,
                    },
                };
                acc.reads.push(read);
                Ok(())
            },
        )
    }

    /// Height and width of image `image_id` (from its record's columns).
    pub fn image_size(&self, image_id: i64) -> Result<(u64, u64)> {
        let row = self.images.row(image_id).ok_or_else(|| Error::Schema {
            path: self.source.path_text(),
            record: format!("image id {image_id}"),
            field: String::new(),
            expected: "an image with this id in 'images'".into(),
        })?;
        let f = self.img.flags[row];
        if f & flag::HAS_WIDTH == 0 || f & flag::HAS_HEIGHT == 0 {
            return Err(Error::Schema {
                path: self.source.path_text(),
                record: format!("images[{row}] (id {image_id})"),
                field: "height/width".into(),
                expected: "'height' and 'width' to rasterise its annotations".into(),
            });
        }
        Ok((
            u64::from(self.img.height[row]),
            u64::from(self.img.width[row]),
        ))
    }

    /// The annotation rows of image `image_id` in file order (`imgToAnns[image_id]`).
    pub fn image_rows(&self, image_id: i64) -> Vec<usize> {
        self.by_image
            .rows_of(image_id)
            .map(|rows| rows.iter().map(|&r| r as usize).collect())
            .unwrap_or_default()
    }

    /// The RLEs (as `annToRLE` makes them) of annotation `rows`, for an image of `h` x `w`.
    pub fn rles(&self, rows: &[usize], h: u64, w: u64) -> Result<Vec<Rle>> {
        let segs = self.member_of(Kind::Annotations, rows, "segmentation")?;
        segs.into_iter()
            .zip(rows)
            .map(|(seg, &row)| self.rle_of_row(row, seg, h, w))
            .collect()
    }

    /// The RLE of annotation `row`'s segmentation `seg` (None: it has none) at `h` x `w`,
    /// errors naming the record.
    fn rle_of_row(&self, row: usize, seg: Option<json::Member>, h: u64, w: u64) -> Result<Rle> {
        let name = || format!("annotations[{row}] (id {})", self.annotations.ids.get(row));
        let seg = seg.ok_or_else(|| Error::Schema {
            path: self.source.path_text(),
            record: name(),
            field: "segmentation".into(),
            expected: "a 'segmentation' to make a mask of".into(),
        })?;
        segm::rle_of_member(&seg, h, w).map_err(|e| match e {
            Error::Schema {
                field, expected, ..
            } => Error::Schema {
                path: self.source.path_text(),
                record: name(),
                field,
                expected,
            },
            other => other.at_item(row),
        })
    }

    /// `annToRLE` of annotation `rows` (any images; each rasterised at its image's size): the
    /// records read in the order of `rows`, in batches and in parallel, each segmentation
    /// rasterised as soon as it is parsed (a file's polygons are never all held at once).
    /// Reading image by image instead cost a read per record (records of an image lie apart).
    pub fn annotation_rles(&self, rows: &[usize]) -> Result<Vec<Rle>> {
        let batches = self.fold_rows_of(
            Kind::Annotations,
            rows,
            |rows, _| Vec::with_capacity(rows),
            |acc: &mut Vec<Result<Rle>>, r, b| {
                let seg = json::parse_numeric_members(b, &["segmentation"])?
                    .pop()
                    .flatten();
                let rle = self
                    .image_size(self.ann.image_id.get(r))
                    .and_then(|(h, w)| self.rle_of_row(r, seg, h, w));
                acc.push(rle);
                Ok(())
            },
        )?;
        batches.into_iter().flatten().collect()
    }

    /// Image ids of the annotations of category `category_id` in file order
    /// (`catToImgs[category_id]`).
    pub fn category_image_ids(&self, category_id: i64) -> Vec<i64> {
        self.ann
            .category_id
            .rows_equal(category_id)
            .into_iter()
            .map(|r| self.ann.image_id.get(r as usize))
            .collect()
    }
}

/// The filters of `getAnnIds`, applied in pycocotools' order.
#[derive(Debug, Default)]
pub struct AnnFilter<'a> {
    /// Start from these rows (the images' annotations, in the order asked) instead of all.
    pub rows: Option<&'a [usize]>,
    /// Keep annotations whose category_id is one of these.
    pub categories: Option<&'a [i64]>,
    /// Keep `lo < area < hi` (strict); `hi` None means the caller has no upper bound to give,
    /// which is an error only if some area passes `lo` (pycocotools reads `areaRng[1]` then).
    pub area: Option<(f64, Option<f64>)>,
    /// Keep annotations whose crowd flag matches: (wanted when crowd, wanted when not).
    pub crowd: Option<(bool, bool)>,
}

/// Why `getAnnIds` fails where pycocotools fails: a field some annotation lacks (`KeyError`),
/// or an area range without its upper bound (`IndexError`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SelectError {
    MissingField(&'static str),
    NoUpperBound,
}

impl Index {
    /// Ids of the annotations that pass `f` (pycocotools' `getAnnIds` on the columns).
    pub fn select_annotations(
        &self,
        f: &AnnFilter<'_>,
    ) -> std::result::Result<Vec<i64>, SelectError> {
        let a = &self.ann;
        let mut rows: Vec<usize> = match f.rows {
            Some(r) => r.to_vec(),
            None => (0..self.annotations.len()).collect(),
        };
        if let Some(cats) = f.categories {
            if rows.iter().any(|&r| a.flags[r] & flag::HAS_CATEGORY == 0) {
                return Err(SelectError::MissingField("category_id"));
            }
            let mut wanted = cats.to_vec();
            wanted.sort_unstable();
            rows.retain(|&r| wanted.binary_search(&a.category_id.get(r)).is_ok());
        }
        if let Some((lo, hi)) = f.area {
            // pycocotools tests `area > lo and area < hi` annotation by annotation: the first
            // that lacks an area, or passes `lo` when there is no `hi`, decides the error.
            for &r in &rows {
                if a.flags[r] & flag::HAS_AREA == 0 {
                    return Err(SelectError::MissingField("area"));
                }
                if hi.is_none() && a.area[r] > lo {
                    return Err(SelectError::NoUpperBound);
                }
            }
            let hi = hi.unwrap_or(f64::NAN);
            rows.retain(|&r| a.area[r] > lo && a.area[r] < hi);
        }
        if let Some((when_crowd, when_not)) = f.crowd {
            if rows.iter().any(|&r| a.flags[r] & flag::HAS_ISCROWD == 0) {
                return Err(SelectError::MissingField("iscrowd"));
            }
            rows.retain(|&r| {
                if a.flags[r] & flag::ISCROWD != 0 {
                    when_crowd
                } else {
                    when_not
                }
            });
        }
        Ok(rows.iter().map(|&r| self.annotations.ids.get(r)).collect())
    }
}

/// Adds the file and line:column to a scan error.
fn locate(source: &Source, e: Error) -> Error {
    let path = source.path_text();
    match e {
        Error::Parse {
            offset, expected, ..
        } => {
            let (line, column) = source.line_col(offset);
            Error::Parse {
                path,
                offset,
                line,
                column,
                expected,
            }
        }
        other => other.in_path(&path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn read_buffers_are_kept_per_thread_unless_oversized() {
        // Kept from one call to the next (its bytes too: a read overwrites what it uses).
        with_read_buffer(|b| b.resize(1000, 7));
        assert_eq!(with_read_buffer(|b| b.len()), 1000);
        // A read nested in another gets a fresh buffer, and the outer one is kept.
        let inner = with_read_buffer(|outer| {
            outer.push(1);
            with_read_buffer(|b| b.len())
        });
        assert_eq!(inner, 0);
        assert_eq!(with_read_buffer(|b| b.len()), 1001);
        // Grown past twice a batch (a record larger than a batch): dropped.
        with_read_buffer(|b| b.resize(2 * BATCH_READ as usize + 1, 0));
        assert_eq!(with_read_buffer(|b| b.len()), 0);
        // Another thread has its own.
        std::thread::spawn(|| assert_eq!(with_read_buffer(|b| b.len()), 0))
            .join()
            .unwrap();
    }

    fn write(text: &str) -> tempfile::NamedTempFile {
        let mut f = tempfile::NamedTempFile::new().unwrap();
        f.write_all(text.as_bytes()).unwrap();
        f.flush().unwrap();
        f
    }

    const DOC: &str = r#"{"images": [{"id": 2, "height": 10, "width": 10}, {"id": 1, "height": 4, "width": 4}],
"annotations": [{"id": 5, "image_id": 2, "category_id": 3, "segmentation": [[1, 1, 5, 1, 5, 5]]},
 {"id": 4, "image_id": 1, "category_id": 3, "segmentation": {"size": [4, 4], "counts": [2, 3, 11]}},
 {"id": 9, "image_id": 2, "category_id": 1, "segmentation": {"size": [10, 10], "counts": "522i2"}}],
"categories": [{"id": 3}, {"id": 1}]}"#;

    #[test]
    fn open_lookup_and_records() {
        let f = write(DOC);
        let idx = Index::open(f.path()).unwrap();
        assert_eq!(idx.annotations.len(), 3);
        assert_eq!(idx.annotations.row(9), Some(2));
        assert_eq!(idx.images.row(1), Some(1));
        assert_eq!(idx.image_rows(2), vec![0, 2]);
        assert_eq!(idx.by_image.keys.to_vec(), vec![2, 1]);
        assert_eq!(idx.category_keys, vec![3, 1]);
        assert_eq!(idx.category_image_ids(3), vec![2, 1]);
        let recs = idx.records(Kind::Annotations, &[2, 0, 1]).unwrap();
        assert_eq!(recs[0].get("id"), Some(&Value::Int(9)));
        assert_eq!(recs[2].get("id"), Some(&Value::Int(4)));
        let cats = idx.member_value("categories").unwrap().unwrap();
        assert!(matches!(cats, Value::Array(ref c) if c.len() == 2));
        let rles = idx.rles(&[0, 1, 2], 10, 10).unwrap();
        assert_eq!(rles[1].counts, vec![2, 3, 11]);
        assert_eq!(rles[2].counts, vec![5, 2, 2, 91]);
        // pycocotools: merge(frPyObjects([[1,1,5,1,5,5]], 10, 10)) has area 6.
        assert_eq!(rles[0].counts_string(), b"e0191O1`1");
    }

    #[test]
    fn errors_name_file_line_and_column() {
        let f = write("{\"images\": [\n  {\"id\": 1,}\n]}");
        let e = Index::open(f.path()).unwrap_err();
        let msg = e.to_string();
        let at = format!("{}:2:12: invalid JSON at byte 24", f.path().display());
        assert!(msg.starts_with(&at), "{msg}");
        let f = write(r#"{"annotations": [{"id": 1, "image_id": 1}], "categories": []}"#);
        let e = Index::open(f.path()).unwrap_err().to_string();
        assert!(e.contains("category_id"), "{e}");
    }

    #[test]
    fn changed_file_is_an_error_not_a_crash() {
        let f = write(DOC);
        let idx = Index::open(f.path()).unwrap();
        std::fs::write(f.path(), "{}").unwrap();
        let e = idx.records(Kind::Annotations, &[0]).unwrap_err();
        assert!(matches!(e, Error::FileChanged { .. }), "{e}");
    }

    #[test]
    fn keypoints_read_where_the_scan_found_them() {
        // Whitespace before values, a repeated key (the last counts, as in json.load), a
        // record without keypoints, num_keypoints 0, -0.0, a string and absent.
        let f = write(
            r#"{"annotations": [
              {"id": 1, "image_id": 1, "keypoints" :  [1, 2, 2], "num_keypoints": 0,
               "segmentation": [[1, 2, 3]], "keypoints": [4.5, 5, 1 ]},
              {"id": 2, "image_id": 1, "num_keypoints": -0.0, "bbox": [1, 2, 3, 4]},
              {"keypoints":[7,8,2],"id":3,"image_id":1,"num_keypoints":"2"},
              {"id": 4, "image_id": 1, "keypoints": [], "num_keypoints": 3},
              {"id": 5, "image_id": 1, "keypoints": [1, "x", 2]},
              {"id": 6, "image_id": 1, "keypoints": [ 1e2 , -0.0,3]},
              {"id": 7, "image_id": 1, "keypoints": [[1, 2]], "num_keypoints": 1},
              {"id": 8, "image_id": 1, "keypoints": [3, 4, 0, 5, 6, -1, 7, 8, -0.0, 9]}
            ]}"#,
        );
        let idx = Index::open(f.path()).unwrap();
        let rows: Vec<usize> = vec![4, 0, 1, 2, 3, 5, 6, 7];
        let walked = idx
            .member_of(Kind::Annotations, &rows, "keypoints")
            .unwrap();
        // Batches back as one Option<Member> per row, as the walking reader gives them; a
        // hidden list as the walker's, after checking that it has no visible keypoint.
        let mut placed = Vec::new();
        let mut hidden = 0;
        for batch in idx.annotation_keypoints(&rows).unwrap() {
            let mut at = 0;
            for read in batch.reads {
                placed.push(match read {
                    KeypointsRead::Numbers(n) => {
                        at += n;
                        let v = batch.values[at - n..at].to_vec();
                        assert!(Keypoints::any_visible(&v), "{v:?}");
                        Some(json::Member::Numeric(json::Numeric::Numbers(v)))
                    }
                    KeypointsRead::Hidden(n) => {
                        hidden += 1;
                        let w = walked[placed.len()].clone();
                        let v = match &w {
                            Some(json::Member::Numeric(json::Numeric::Numbers(v))) => v.clone(),
                            _ => Vec::new(),
                        };
                        assert_eq!(v.len(), n, "{w:?}");
                        assert!(!Keypoints::any_visible(&v), "{v:?}");
                        w
                    }
                    KeypointsRead::Absent => None,
                    KeypointsRead::Other(m) => Some(m),
                });
            }
            assert_eq!(at, batch.values.len());
        }
        assert_eq!(hidden, 1);
        assert_eq!(placed, walked);
        assert_eq!(
            placed[1],
            Some(json::Member::Numeric(json::Numeric::Numbers(vec![
                4.5, 5.0, 1.0
            ])))
        );
        assert_eq!(placed[2], None);
        assert_eq!(
            placed[5],
            Some(json::Member::Numeric(json::Numeric::Numbers(vec![
                100.0, -0.0, 3.0
            ])))
        );
        let bits = |r: usize| {
            let f = idx.ann.flags[r];
            (
                f & flag::HAS_NUM_KEYPOINTS != 0,
                f & flag::NO_KEYPOINTS != 0,
            )
        };
        assert_eq!(
            (0..5).map(bits).collect::<Vec<_>>(),
            vec![
                (true, true),
                (true, true),
                (false, false),
                (true, false),
                (false, false)
            ]
        );
    }

    #[test]
    fn gzip_is_indexed_like_plain() {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(DOC.as_bytes()).unwrap();
        let f = write("");
        std::fs::write(f.path(), gz.finish().unwrap()).unwrap();
        let idx = Index::open(f.path()).unwrap();
        assert!(idx.source().is_gzip());
        assert_eq!(idx.annotations.ids.to_vec(), vec![5, 4, 9]);
    }
}
