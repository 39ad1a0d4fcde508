//! Compact columns and lookups of the index: plain arrays, no map of boxed objects.

use std::sync::Arc;

use rayon::prelude::*;

use super::json::{decimal_digits, PlainDecimal};

/// An integer column stored in 32 bits per value. The few values that do not fit (COCO's crowd
/// annotations have 12-digit ids) are kept aside by row, with `i32::MIN` in their place; once
/// they are more than a quarter of the column, 64 bits per value cost less and the column widens.
#[derive(Debug, Clone, PartialEq)]
pub enum IntColumn {
    Narrow {
        values: Vec<i32>,
        /// Rows (increasing) whose value does not fit 32 bits, and their values.
        big_rows: Vec<u32>,
        big: Vec<i64>,
    },
    Wide(Vec<i64>),
}

/// Stands for a value kept aside in a narrow column.
const ASIDE: i32 = i32::MIN;

/// Whether `aside` values kept aside in a column of `len` cost more than 64 bits for every
/// value would (a few are always allowed).
fn too_many_aside(aside: usize, len: usize) -> bool {
    aside >= 16 && aside * 4 > len
}

/// The value kept aside for `row`: `rows` (increasing) with their `values`.
fn aside<T: Copy>(rows: &[u32], values: &[T], row: usize) -> Option<T> {
    let k = rows.binary_search(&u32::try_from(row).ok()?).ok()?;
    values.get(k).copied()
}

/// Row `row` of a narrow column's parts: its 32-bit value, or the value kept aside for it (0
/// out of range).
#[inline]
fn narrow_at(values: &[i32], big_rows: &[u32], big: &[i64], row: usize) -> i64 {
    match values.get(row) {
        Some(&ASIDE) => aside(big_rows, big, row).unwrap_or(0),
        Some(&x) => i64::from(x),
        None => 0,
    }
}

/// Appends the rows kept aside by a part whose first row is row `by` here.
fn extend_shifted(rows: &mut Vec<u32>, more: &[u32], by: u32) {
    rows.extend(more.iter().map(|&r| r + by));
}

impl Default for IntColumn {
    fn default() -> Self {
        IntColumn::Narrow {
            values: Vec::new(),
            big_rows: Vec::new(),
            big: Vec::new(),
        }
    }
}

impl IntColumn {
    pub fn from_vec(values: Vec<i64>) -> IntColumn {
        let mut column = IntColumn::default();
        for v in values {
            column.push(v);
        }
        column.shrink_to_fit();
        column
    }

    /// Appends `value`: the scan builds columns this way, so ids take 64 bits only where they
    /// need them.
    pub fn push(&mut self, value: i64) {
        match self {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => match (i32::try_from(value), u32::try_from(values.len())) {
                (Ok(x), _) if x != ASIDE => values.push(x),
                (_, Ok(row)) if !too_many_aside(big.len() + 1, values.len() + 1) => {
                    values.push(ASIDE);
                    big_rows.push(row);
                    big.push(value);
                }
                _ => {
                    let mut wide = self.to_vec();
                    wide.push(value);
                    *self = IntColumn::Wide(wide);
                }
            },
            IntColumn::Wide(v) => v.push(value),
        }
    }

    pub fn reserve(&mut self, n: usize) {
        match self {
            IntColumn::Narrow { values, .. } => values.reserve(n),
            IntColumn::Wide(v) => v.reserve(n),
        }
    }

    /// Appends the values of `other`.
    pub fn append(&mut self, other: &IntColumn) {
        if let (
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            },
            IntColumn::Narrow {
                values: more,
                big_rows: more_rows,
                big: more_big,
            },
        ) = (&mut *self, other)
        {
            let rows = values.len();
            if u32::try_from(rows + more.len()).is_ok() {
                values.extend_from_slice(more);
                extend_shifted(big_rows, more_rows, rows as u32);
                big.extend_from_slice(more_big);
                if too_many_aside(big.len(), values.len()) {
                    *self = IntColumn::Wide(self.to_vec());
                }
                return;
            }
        }
        for r in 0..other.len() {
            self.push(other.get(r));
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => {
                values.shrink_to_fit();
                big_rows.shrink_to_fit();
                big.shrink_to_fit();
            }
            IntColumn::Wide(v) => v.shrink_to_fit(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IntColumn::Narrow { values, .. } => values.len(),
            IntColumn::Wide(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether some value takes 64 bits.
    #[cfg(test)]
    pub fn has_wide_values(&self) -> bool {
        match self {
            IntColumn::Narrow { big, .. } => !big.is_empty(),
            IntColumn::Wide(_) => true,
        }
    }

    /// The value at `row` (rows come from the index itself, so they are in range; an out of
    /// range row reads as 0 rather than panicking).
    #[inline]
    pub fn get(&self, row: usize) -> i64 {
        match self {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => narrow_at(values, big_rows, big, row),
            IntColumn::Wide(v) => v.get(row).copied().unwrap_or(0),
        }
    }

    pub fn to_vec(&self) -> Vec<i64> {
        self.values().collect()
    }

    /// The values in row order. A kept-aside row is the next value of `big` (both are in row
    /// order), so the walk needs no search.
    pub fn values(&self) -> impl Iterator<Item = i64> + '_ {
        let (narrow, wide): (&[i32], &[i64]) = match self {
            IntColumn::Narrow { values, .. } => (values, &[]),
            IntColumn::Wide(v) => (&[], v),
        };
        let mut big = match self {
            IntColumn::Narrow { big, .. } => big.iter(),
            IntColumn::Wide(_) => [].iter(),
        };
        let narrow = narrow.iter().map(move |&x| match x {
            ASIDE => big.next().copied().unwrap_or(0),
            x => i64::from(x),
        });
        narrow.chain(wide.iter().copied())
    }

    /// Rows whose value is `value`, in order.
    pub fn rows_equal(&self, value: i64) -> Vec<u32> {
        match self {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => match i32::try_from(value) {
                Ok(x) if x != ASIDE => positions(values, |&y| y == x),
                _ => big_rows
                    .iter()
                    .zip(big)
                    .filter(|(_, &v)| v == value)
                    .map(|(&r, _)| r)
                    .collect(),
            },
            IntColumn::Wide(v) => positions(v, |&y| y == value),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => values.capacity() * 4 + big_rows.capacity() * 4 + big.capacity() * 8,
            IntColumn::Wide(v) => v.capacity() * 8,
        }
    }
}

/// File offsets, 32 bits each: the offsets of one array only grow, so their high halves are
/// kept as the rows where they step up (one per 4 GiB of file), not per row.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Offsets {
    low: Vec<u32>,
    /// `steps[k]`: the first row whose offset is at least `(k + 1) << 32`.
    steps: Vec<u32>,
}

impl Offsets {
    /// Appends `offset`, which is not below the last one (records come in file order).
    pub fn push(&mut self, offset: u64) {
        let row = u32::try_from(self.low.len()).unwrap_or(u32::MAX);
        while (self.steps.len() as u64) < offset >> 32 {
            self.steps.push(row);
        }
        self.low.push(offset as u32);
    }

    pub fn reserve(&mut self, n: usize) {
        self.low.reserve(n);
    }

    /// Appends the offsets of `other` (none below the last one here).
    pub fn append(&mut self, other: &Offsets) {
        if self.steps.is_empty() && other.steps.is_empty() {
            self.low.extend_from_slice(&other.low);
            return;
        }
        for r in 0..other.len() {
            if let Some(offset) = other.get(r) {
                self.push(offset);
            }
        }
    }

    pub fn get(&self, row: usize) -> Option<u64> {
        let low = *self.low.get(row)?;
        let high = self.steps.partition_point(|&s| s as usize <= row);
        Some(((high as u64) << 32) | u64::from(low))
    }

    pub fn len(&self) -> usize {
        self.low.len()
    }

    pub fn is_empty(&self) -> bool {
        self.low.is_empty()
    }

    pub fn shrink_to_fit(&mut self) {
        self.low.shrink_to_fit();
        self.steps.shrink_to_fit();
    }

    pub fn bytes(&self) -> usize {
        self.low.capacity() * 4 + self.steps.capacity() * 4
    }
}

/// Largest digits of a [`decimal_code`]; `u32::MAX` (all ones) marks a box kept whole.
const MAX_DIGITS: u32 = (1 << 30) - 2;
const KEPT_WHOLE: u32 = u32::MAX;
const PLACES: [f64; 4] = [1.0, 10.0, 100.0, 1000.0];

/// The 32-bit code of a JSON number written as digits with at most three decimal places and
/// digits below 2^30 (`123.45`, almost every COCO box coordinate): places in the top two bits,
/// the digits below. Decoded as `digits / 10^places`, a single correctly rounded division of
/// exactly represented operands, it is the very double a correctly rounded parse of the text
/// gives (the fast path of decimal parsing).
pub fn decimal_code(text: &[u8]) -> Option<u32> {
    if text.len() > 11 {
        return None;
    }
    let (digits, places, _) = decimal_digits(text)?;
    if places > 3 || digits > u64::from(MAX_DIGITS) {
        return None;
    }
    Some((places << 30) | digits as u32)
}

/// The [`decimal_code`] of a number read by [`plain_decimal`](super::json::plain_decimal).
#[inline]
pub fn plain_decimal_code(d: &PlainDecimal) -> Option<u32> {
    if d.negative || d.places > 3 || d.digits > u64::from(MAX_DIGITS) {
        return None;
    }
    Some(((d.places as u32) << 30) | d.digits as u32)
}

/// The code of a value whose text is not at hand (`1e2`, or a box set by `loadRes`): the
/// first places count whose decoding gives back exactly `v`.
fn value_code(v: f64) -> Option<u32> {
    (0..4u32).find_map(|p| {
        let digits = (v * PLACES[p as usize]).round();
        if !(0.0..=f64::from(MAX_DIGITS)).contains(&digits) {
            return None;
        }
        let code = (p << 30) | digits as u32;
        (code_value(code).to_bits() == v.to_bits()).then_some(code)
    })
}

/// The value of a [`decimal_code`].
#[inline]
pub fn code_value(code: u32) -> f64 {
    f64::from(code & ((1 << 30) - 1)) / PLACES[(code >> 30) as usize]
}

/// One record's box as the scan read it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum BoxValue {
    Codes([u32; 4]),
    Whole([f64; 4]),
}

impl Default for BoxValue {
    fn default() -> Self {
        BoxValue::Codes([0; 4])
    }
}

impl BoxValue {
    pub fn of(b: [f64; 4]) -> BoxValue {
        match (
            value_code(b[0]),
            value_code(b[1]),
            value_code(b[2]),
            value_code(b[3]),
        ) {
            (Some(x), Some(y), Some(w), Some(h)) => BoxValue::Codes([x, y, w, h]),
            _ => BoxValue::Whole(b),
        }
    }

    pub fn value(self) -> [f64; 4] {
        match self {
            BoxValue::Codes(c) => c.map(code_value),
            BoxValue::Whole(b) => b,
        }
    }
}

/// The `bbox` column. Ground truth keeps 16 bytes per box (four [`decimal_code`]s; the rare box
/// that has no code is kept whole, by row); results keep plain doubles, shared with the
/// evaluations that read them and rewritten by `loadRes`.
#[derive(Debug, Clone, PartialEq)]
pub enum Boxes {
    Compact {
        codes: Vec<[u32; 4]>,
        whole_rows: Vec<u32>,
        whole: Vec<[f64; 4]>,
    },
    Plain(Arc<Vec<[f64; 4]>>),
}

impl Default for Boxes {
    fn default() -> Self {
        Boxes::Compact {
            codes: Vec::new(),
            whole_rows: Vec::new(),
            whole: Vec::new(),
        }
    }
}

impl Boxes {
    pub fn push(&mut self, b: BoxValue) {
        match self {
            Boxes::Compact {
                codes,
                whole_rows,
                whole,
            } => match b {
                BoxValue::Codes(c) => codes.push(c),
                BoxValue::Whole(v) => {
                    whole_rows.push(u32::try_from(codes.len()).unwrap_or(u32::MAX));
                    codes.push([KEPT_WHOLE; 4]);
                    whole.push(v);
                }
            },
            Boxes::Plain(v) => Arc::make_mut(v).push(b.value()),
        }
    }

    pub fn reserve(&mut self, n: usize) {
        match self {
            Boxes::Compact { codes, .. } => codes.reserve(n),
            Boxes::Plain(v) => Arc::make_mut(v).reserve(n),
        }
    }

    /// Appends the boxes of `other`.
    pub fn append(&mut self, other: &Boxes) {
        if let (
            Boxes::Compact {
                codes,
                whole_rows,
                whole,
            },
            Boxes::Compact {
                codes: more,
                whole_rows: more_rows,
                whole: more_whole,
            },
        ) = (&mut *self, other)
        {
            let rows = codes.len();
            if u32::try_from(rows + more.len()).is_ok() {
                codes.extend_from_slice(more);
                extend_shifted(whole_rows, more_rows, rows as u32);
                whole.extend_from_slice(more_whole);
                return;
            }
        }
        for r in 0..other.len() {
            self.push(BoxValue::of(other.get(r)));
        }
    }

    pub fn len(&self) -> usize {
        match self {
            Boxes::Compact { codes, .. } => codes.len(),
            Boxes::Plain(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The box of `row` (zeros out of range, as other columns read 0).
    #[inline]
    pub fn get(&self, row: usize) -> [f64; 4] {
        match self {
            Boxes::Compact {
                codes,
                whole_rows,
                whole,
            } => match codes.get(row) {
                Some(&[KEPT_WHOLE, ..]) => aside(whole_rows, whole, row).unwrap_or([0.0; 4]),
                Some(c) => c.map(code_value),
                None => [0.0; 4],
            },
            Boxes::Plain(v) => v.get(row).copied().unwrap_or([0.0; 4]),
        }
    }

    /// All boxes as doubles.
    pub fn to_vec(&self) -> Vec<[f64; 4]> {
        (0..self.len()).map(|r| self.get(r)).collect()
    }

    /// All boxes as doubles, shared when they are kept so.
    pub fn to_arc(&self) -> Arc<Vec<[f64; 4]>> {
        match self {
            Boxes::Plain(v) => Arc::clone(v),
            Boxes::Compact { .. } => Arc::new(self.to_vec()),
        }
    }

    /// All boxes as doubles, to rewrite.
    pub fn into_plain(self) -> Vec<[f64; 4]> {
        match self {
            Boxes::Plain(v) => Arc::try_unwrap(v).unwrap_or_else(|shared| (*shared).clone()),
            compact => compact.to_vec(),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            Boxes::Compact {
                codes,
                whole_rows,
                whole,
            } => {
                codes.shrink_to_fit();
                whole_rows.shrink_to_fit();
                whole.shrink_to_fit();
            }
            Boxes::Plain(v) => Arc::make_mut(v).shrink_to_fit(),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            Boxes::Compact {
                codes,
                whole_rows,
                whole,
            } => codes.capacity() * 16 + whole_rows.capacity() * 4 + whole.capacity() * 32,
            Boxes::Plain(v) => v.capacity() * 32,
        }
    }
}

fn positions<T>(v: &[T], pred: impl Fn(&T) -> bool) -> Vec<u32> {
    v.iter()
        .enumerate()
        .filter(|(_, x)| pred(x))
        .map(|(i, _)| i as u32)
        .collect()
}

/// The (id, row) order of a narrow column whose 32-bit values never decrease row by row, the
/// values kept aside apart (COCO's annotations: increasing ids, and 12-digit crowd ids among
/// them): those below every 32-bit value, the other rows in row order, then those above; only
/// the few kept aside are sorted. None if a 32-bit value is below the one before it.
fn order_around_aside(values: &[i32], big_rows: &[u32], big: &[i64]) -> Option<IdLookup> {
    let (mut last, mut duplicates) = (None, false);
    for &v in values.iter().filter(|&&v| v != ASIDE) {
        match last {
            Some(l) if v < l => return None,
            Some(l) => duplicates |= v == l,
            None => {}
        }
        last = Some(v);
    }
    // Values kept aside do not fit 32 bits or are `ASIDE` itself (i32::MIN): each lies below
    // or above every value left in the column, so only they can repeat one another.
    let mut aside: Vec<(i64, u32)> = big.iter().copied().zip(big_rows.iter().copied()).collect();
    aside.sort_unstable();
    duplicates |= aside.windows(2).any(|w| w[0].0 == w[1].0);
    let below = aside.partition_point(|&(v, _)| v <= i64::from(ASIDE));
    let mut order = Vec::with_capacity(values.len());
    order.extend(aside[..below].iter().map(|&(_, r)| r));
    order.extend(
        (0..values.len() as u32).filter(|&r| values.get(r as usize).is_some_and(|&v| v != ASIDE)),
    );
    order.extend(aside[below..].iter().map(|&(_, r)| r));
    Some(IdLookup {
        order: Some(order),
        duplicates,
    })
}

/// id -> row by binary search. When the ids are strictly increasing (the common case) the
/// column itself is searched and nothing is stored; otherwise a permutation sorted by (id, row).
/// With repeated ids the last row wins, as `d[id] = record` does in pycocotools.
#[derive(Debug, Clone, Default)]
pub struct IdLookup {
    order: Option<Vec<u32>>,
    /// Whether some id occurs more than once (known once the order is).
    duplicates: bool,
}

impl IdLookup {
    pub fn new(ids: &IntColumn) -> IdLookup {
        let increasing = ids.values().zip(ids.values().skip(1)).all(|(a, b)| a < b);
        if increasing {
            return IdLookup {
                order: None,
                duplicates: false,
            };
        }
        if let IntColumn::Narrow {
            values,
            big_rows,
            big,
        } = ids
        {
            if let Some(lookup) = order_around_aside(values, big_rows, big) {
                return lookup;
            }
        }
        // Rows sorted by (id, row): equal ids keep row order, so the last of a run is the last
        // in the file, as a stable sort by id would leave it (an unstable sort is faster). A
        // narrow column's ids are read straight from its 32-bit values, the few kept aside
        // found by search: about twice as fast as going through `get`, and no copy of the
        // ids (a sort of (id, row) pairs was faster still but took 16 bytes a row at the
        // peak of the open).
        let mut order: Vec<u32> = (0..ids.len() as u32).collect();
        crate::parallel::install(|| match ids {
            IntColumn::Narrow {
                values,
                big_rows,
                big,
            } => order
                .par_sort_unstable_by_key(|&r| (narrow_at(values, big_rows, big, r as usize), r)),
            IntColumn::Wide(v) => order.par_sort_unstable_by_key(|&r| (v[r as usize], r)),
        });
        let duplicates = order
            .windows(2)
            .any(|w| ids.get(w[0] as usize) == ids.get(w[1] as usize));
        IdLookup {
            order: Some(order),
            duplicates,
        }
    }

    /// Whether some id occurs more than once (then a warning is due).
    pub fn has_duplicates(&self) -> bool {
        self.duplicates
    }

    /// The row of `id` (the last one if repeated).
    pub fn find(&self, ids: &IntColumn, id: i64) -> Option<usize> {
        match &self.order {
            None => {
                let (mut lo, mut hi) = (0usize, ids.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if ids.get(mid) < id {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                (lo < ids.len() && ids.get(lo) == id).then_some(lo)
            }
            Some(order) => {
                // First position whose id is greater than `id`; the entry before is the last
                // row with that id.
                let (mut lo, mut hi) = (0usize, order.len());
                while lo < hi {
                    let mid = (lo + hi) / 2;
                    if ids.get(order[mid] as usize) <= id {
                        lo = mid + 1;
                    } else {
                        hi = mid;
                    }
                }
                let r = *order.get(lo.checked_sub(1)?)? as usize;
                (ids.get(r) == id).then_some(r)
            }
        }
    }

    pub fn bytes(&self) -> usize {
        self.order.as_ref().map_or(0, |o| o.capacity() * 4)
    }
}

/// Rows grouped by a key column (annotations by image_id): the distinct keys in order of first
/// appearance (the key order of pycocotools' `imgToAnns` defaultdict) and, for each, its rows in
/// file order, as one flat array with offsets.
#[derive(Debug, Clone, Default)]
pub struct Groups {
    pub keys: IntColumn,
    lookup: IdLookup,
    starts: Vec<u32>,
    rows: Vec<u32>,
}

impl Groups {
    pub fn new(column: &IntColumn) -> Groups {
        let n = column.len();
        // Group number of each key by first appearance, and the size of each group.
        let mut seen = FirstSeen::for_column(column);
        let mut sizes: Vec<u32> = Vec::new();
        let mut group_of: Vec<u32> = Vec::with_capacity(n);
        for k in column.values() {
            let g = seen.number(k);
            group_of.push(g);
            match sizes.get_mut(g as usize) {
                Some(size) => *size += 1,
                None => sizes.push(1),
            }
        }
        // Counting sort of rows by group (stable: file order inside a group), from each row's
        // group kept above (4 bytes a row for a moment, where looking the keys up again in a
        // table larger than the caches took about as long as numbering them).
        let mut starts = Vec::with_capacity(sizes.len() + 1);
        starts.push(0u32);
        for &size in &sizes {
            starts.push(starts[starts.len() - 1] + size);
        }
        drop(sizes);
        let mut fill = starts.clone();
        let mut rows = vec![0u32; n];
        for (r, &g) in group_of.iter().enumerate() {
            if let Some(slot) = fill.get_mut(g as usize) {
                if let Some(row) = rows.get_mut(*slot as usize) {
                    *row = r as u32;
                }
                *slot += 1;
            }
        }
        drop(group_of);
        let keys = seen.into_keys();
        let keys = IntColumn::from_vec(keys);
        let lookup = IdLookup::new(&keys);
        Groups {
            keys,
            lookup,
            starts,
            rows,
        }
    }

    /// The rows whose key is `key`, in file order (`None` if no row has it).
    pub fn rows_of(&self, key: i64) -> Option<&[u32]> {
        let g = self.lookup.find(&self.keys, key)?;
        let (s, e) = (
            *self.starts.get(g)? as usize,
            *self.starts.get(g + 1)? as usize,
        );
        self.rows.get(s..e)
    }

    pub fn bytes(&self) -> usize {
        self.keys.bytes()
            + self.lookup.bytes()
            + self.starts.capacity() * 4
            + self.rows.capacity() * 4
    }
}

/// The distinct values of a column in order of first appearance.
pub fn distinct_in_order(column: &IntColumn) -> Vec<i64> {
    let mut seen = FirstSeen::for_column(column);
    for k in column.values() {
        seen.number(k);
    }
    seen.into_keys()
}

/// Numbers the distinct keys of a column 0, 1, 2, ... in order of first appearance. Ids in
/// real files span a compact range, so a key's number is found in a direct table over the
/// range (at most 4 entries a row, 16 bytes, for the moment it is used); keys spread wider
/// go through a hash map (`Groups` over the image ids of 827k annotations: 117 ms with the
/// map, about 45 with the table). Rows of one key often come together, so the last key's
/// number is kept at hand.
struct FirstSeen {
    /// The smallest key and, for each key from it on, its number + 1 (0: not seen yet).
    table: Option<(i64, Vec<u32>)>,
    map: std::collections::HashMap<i64, u32>,
    keys: Vec<i64>,
    last: Option<(i64, u32)>,
}

impl FirstSeen {
    fn for_column(column: &IntColumn) -> FirstSeen {
        let (mut lo, mut hi) = (i64::MAX, i64::MIN);
        for k in column.values() {
            lo = lo.min(k);
            hi = hi.max(k);
        }
        let limit = 4 * column.len() as u64 + 4096;
        let span = (hi as i128 - lo as i128) as u128;
        let table =
            (hi >= lo && span < u128::from(limit)).then(|| (lo, vec![0u32; span as usize + 1]));
        FirstSeen {
            table,
            map: std::collections::HashMap::new(),
            keys: Vec::new(),
            last: None,
        }
    }

    /// The number of key `k`, a new one if `k` is new.
    #[inline]
    fn number(&mut self, k: i64) -> u32 {
        if let Some((lk, g)) = self.last {
            if lk == k {
                return g;
            }
        }
        let next = self.keys.len() as u32;
        let g = match &mut self.table {
            Some((lo, table)) => match table.get_mut(k.wrapping_sub(*lo) as usize) {
                Some(slot) if *slot > 0 => *slot - 1,
                Some(slot) => {
                    *slot = next + 1;
                    next
                }
                // Not a key of the column the table was made for.
                None => *self.map.entry(k).or_insert(next),
            },
            None => *self.map.entry(k).or_insert(next),
        };
        if g == next {
            self.keys.push(k);
        }
        self.last = Some((k, g));
        g
    }

    fn into_keys(self) -> Vec<i64> {
        self.keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_sorted_and_unsorted_last_wins() {
        let sorted = IntColumn::from_vec(vec![1, 3, 7, 9]);
        let lk = IdLookup::new(&sorted);
        assert_eq!(lk.find(&sorted, 7), Some(2));
        assert_eq!(lk.find(&sorted, 8), None);
        assert!(!lk.has_duplicates());
        // A 64-bit id kept aside in a narrow column, and the same ids in a wide one.
        let ids = vec![5, 2, 5, 1 << 40, 2];
        for dup in [
            IntColumn::from_vec(ids.clone()),
            IntColumn::Wide(ids.clone()),
        ] {
            assert!(dup.has_wide_values());
            let lk = IdLookup::new(&dup);
            assert_eq!(lk.find(&dup, 5), Some(2));
            assert_eq!(lk.find(&dup, 2), Some(4));
            assert_eq!(lk.find(&dup, 1 << 40), Some(3));
            assert_eq!(lk.find(&dup, 0), None);
            assert!(lk.has_duplicates());
        }
    }

    #[test]
    fn narrow_columns_keep_big_values_aside_and_widen_when_many() {
        let big = 900_100_581_904_i64;
        let values = vec![5, big, -7, i64::from(i32::MIN), 2, big + 1, 5];
        let col = IntColumn::from_vec(values.clone());
        assert!(matches!(&col, IntColumn::Narrow { big, .. } if big.len() == 3));
        assert_eq!(col.to_vec(), values);
        assert_eq!((0..7).map(|r| col.get(r)).collect::<Vec<_>>(), values);
        assert_eq!(col.get(7), 0);
        assert_eq!(col.rows_equal(5), vec![0, 6]);
        assert_eq!(col.rows_equal(big + 1), vec![5]);
        assert_eq!(col.rows_equal(i64::from(i32::MIN)), vec![3]);
        assert_eq!(col.rows_equal(big + 2), Vec::<u32>::new());
        assert!(col.has_wide_values());
        // Mostly big values: 64 bits each cost less than keeping them aside.
        let many: Vec<i64> = (0..1000)
            .map(|i| if i % 3 == 0 { i } else { big + i })
            .collect();
        let col = IntColumn::from_vec(many.clone());
        assert!(matches!(col, IntColumn::Wide(_)));
        assert_eq!(col.to_vec(), many);
        assert_eq!(col.get(998), big + 998);
    }

    #[test]
    fn offsets_past_four_gib_keep_their_high_halves() {
        let values = [
            0u64,
            7,
            (1 << 32) - 1,
            1 << 32,
            (1 << 32) + 5,
            3 << 32,
            (3 << 32) + 9,
        ];
        let mut o = Offsets::default();
        for &v in &values {
            o.push(v);
        }
        assert_eq!(o.len(), values.len());
        for (r, &v) in values.iter().enumerate() {
            assert_eq!(o.get(r), Some(v), "row {r}");
        }
        assert_eq!(o.get(values.len()), None);
    }

    #[test]
    fn decimal_codes_decode_to_the_parsed_double() {
        let mut rng = crate::test_rng::Rng::new(0x5eed_b0c5);
        let mut texts: Vec<String> = [
            "0",
            "0.0",
            "0.1",
            "0.125",
            "1073741822",
            "1073741823",
            "107374182.2",
            "1073741.82",
            "1073741.823",
            "5.10",
            "00.5",
            "1.",
            "1.2345",
            "12345678901",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..200_000 {
            let int = rng.below(1 << 31);
            let places = rng.below(5) as usize;
            let frac = rng.below(10u64.pow(places as u32).max(1));
            texts.push(if places == 0 {
                format!("{int}")
            } else {
                format!("{}.{frac:0places$}", int % 1_000_000)
            });
        }
        let mut coded = 0;
        for t in &texts {
            let Some(code) = decimal_code(t.as_bytes()) else {
                continue;
            };
            coded += 1;
            let want: f64 = t.parse().unwrap();
            assert_eq!(code_value(code).to_bits(), want.to_bits(), "{t}");
            // The code found from the value decodes to the same double.
            let by_value = value_code(want).unwrap();
            assert_eq!(code_value(by_value).to_bits(), want.to_bits(), "{t}");
        }
        assert!(coded > 100_000);
        for t in ["1073741823", "1.2345", "12345678901", "-1", "1e2"] {
            assert_eq!(decimal_code(t.as_bytes()), None, "{t}");
        }
        for v in [
            -0.0,
            -1.5,
            f64::NAN,
            f64::INFINITY,
            0.1 + 0.2,
            1e300,
            1.0e-5,
        ] {
            assert_eq!(value_code(v), None, "{v}");
        }
    }

    #[test]
    fn boxes_keep_uncoded_boxes_whole() {
        let rows = [
            [1.0, 2.5, 30.25, 4.125],
            [-1.0, 2.0, 3.0, 4.0],
            [0.0, 0.0, 0.0, 0.0],
            [0.1 + 0.2, 1.0, 1.0, f64::NAN],
            [640.0, 480.0, 1.5, 2.75],
        ];
        let mut b = Boxes::default();
        for &r in &rows {
            b.push(BoxValue::of(r));
        }
        assert!(matches!(&b, Boxes::Compact { whole, .. } if whole.len() == 2));
        assert_eq!(b.len(), rows.len());
        let bits = |v: [f64; 4]| v.map(f64::to_bits);
        for (r, &want) in rows.iter().enumerate() {
            assert_eq!(bits(b.get(r)), bits(want), "row {r}");
        }
        assert_eq!(bits(b.get(rows.len())), bits([0.0; 4]));
        let plain = b.clone().into_plain();
        assert_eq!(
            plain.iter().map(|&v| bits(v)).collect::<Vec<_>>(),
            rows.iter().map(|&v| bits(v)).collect::<Vec<_>>()
        );
        assert_eq!(b.to_arc().len(), rows.len());
    }

    /// Groups, distinct keys and the id lookup against plain definitions, on columns whose
    /// keys fit the direct table (narrow and with 64-bit values kept aside) and columns that
    /// go through the hash map (spread keys, i64 extremes, a wide column).
    #[test]
    fn groups_and_lookup_equal_their_definitions() {
        let mut rng = crate::test_rng::Rng::new(0x05ee_d1d5);
        for case in 0..400 {
            let n = rng.below(300) as usize;
            let kinds = 1 + rng.below(40) as i64;
            let values: Vec<i64> = (0..n)
                .map(|_| {
                    let k = rng.below(kinds as u64) as i64;
                    match case % 4 {
                        0 => k - kinds / 2,                             // compact, negatives
                        1 if rng.below(10) == 0 => 900_100_000_000 + k, // kept aside
                        1 => k * 3,
                        2 => k * 1_000_003 - (1 << 33), // spread: hash map
                        _ => [i64::MIN + k, i64::MAX - k, k, -1 - k][k as usize % 4], // extremes
                    }
                })
                .collect();
            let columns = [
                IntColumn::from_vec(values.clone()),
                IntColumn::Wide(values.clone()),
            ];
            for col in &columns {
                assert_eq!(col.values().collect::<Vec<_>>(), values);
                let mut keys: Vec<i64> = Vec::new();
                for &v in &values {
                    if !keys.contains(&v) {
                        keys.push(v);
                    }
                }
                assert_eq!(distinct_in_order(col), keys, "case {case}");
                let g = Groups::new(col);
                assert_eq!(g.keys.to_vec(), keys, "case {case}");
                for &k in &keys {
                    let rows: Vec<u32> =
                        (0..n as u32).filter(|&r| values[r as usize] == k).collect();
                    assert_eq!(g.rows_of(k), Some(&rows[..]), "case {case} key {k}");
                }
                let lk = IdLookup::new(col);
                for &k in keys.iter().chain(&[i64::MIN + 7, 12_345]) {
                    let last = values.iter().rposition(|&v| v == k);
                    assert_eq!(lk.find(col, k), last, "case {case} id {k}");
                }
                assert_eq!(lk.has_duplicates(), keys.len() < n, "case {case}");
            }
        }
    }

    /// Non-decreasing ids with values kept aside among them (12-digit crowd ids, huge negatives,
    /// i32::MIN itself, repeats of those) take the short way to their order; it finds what
    /// the definition finds, and a column that stops increasing still takes the sort.
    #[test]
    fn lookup_around_values_kept_aside_equals_its_definition() {
        let mut rng = crate::test_rng::Rng::new(0x0a51_de1d);
        for case in 0..300 {
            let n = rng.below(400) as usize;
            let mut next = rng.below(5) as i64 - 2;
            let aside = [
                900_100_000_000,
                900_100_000_001,
                i64::from(i32::MIN),
                -(1 << 40),
                i64::MAX,
                i64::MIN,
            ];
            let values: Vec<i64> = (0..n)
                .map(|_| {
                    if rng.below(8) == 0 {
                        aside[rng.below(aside.len() as u64) as usize]
                    } else {
                        next += rng.below(3) as i64 + case % 2; // repeats in odd cases
                        next
                    }
                })
                .collect();
            let mut values_unsorted = values.clone();
            if n > 3 && case % 3 == 0 {
                values_unsorted.swap(n / 2, n / 3); // may break the increase
            }
            for values in [values, values_unsorted] {
                let col = IntColumn::from_vec(values.clone());
                let lk = IdLookup::new(&col);
                let probes = values
                    .iter()
                    .copied()
                    .chain([next + 1, -5, 900_100_000_002]);
                for k in probes {
                    let last = values.iter().rposition(|&v| v == k);
                    assert_eq!(lk.find(&col, k), last, "case {case} id {k}");
                }
                let mut distinct = values.clone();
                distinct.sort_unstable();
                distinct.dedup();
                assert_eq!(lk.has_duplicates(), distinct.len() < n, "case {case}");
            }
        }
    }

    #[test]
    fn groups_keep_first_appearance_and_file_order() {
        let col = IntColumn::from_vec(vec![9, 4, 9, 4, 1, 9]);
        let g = Groups::new(&col);
        assert_eq!(g.keys.to_vec(), vec![9, 4, 1]);
        assert_eq!(g.rows_of(9), Some(&[0u32, 2, 5][..]));
        assert_eq!(g.rows_of(4), Some(&[1u32, 3][..]));
        assert_eq!(g.rows_of(2), None);
        assert_eq!(distinct_in_order(&col), vec![9, 4, 1]);
    }
}
