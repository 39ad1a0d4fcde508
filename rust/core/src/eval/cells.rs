//! `_prepare`'s grouping: annotations by (image, category) in `getAnnIds` order, and each
//! (category, image) cell's detections sorted by score and truncated to `maxDets[-1]`.

use rayon::prelude::*;
use smallvec::SmallVec;

use super::{Anns, Params};
use crate::parallel;

/// Row lists of a cell. Most cells hold a few annotations: kept inline, in the 24 bytes a
/// `Vec` header takes, so a million cells (an Objects365-sized evaluation) do not make a
/// million small allocations for each list.
pub(super) type Rows = SmallVec<[u32; 4]>;

/// One (category, image) cell with ground truth or detections.
#[derive(Debug, Default)]
pub(super) struct Cell {
    /// Category position in `params.cat_ids` (0 for all of them without `use_cats`). The
    /// positions are 32-bit like the row numbers (an Objects365-sized evaluation has a
    /// million cells: every byte of a cell counts).
    pub k: u32,
    /// Image position in `params.img_ids`.
    pub i: u32,
    /// OKS only: some pairs of `ious` were left out as too far apart to match (-inf there).
    pub oks_far: bool,
    /// Ground-truth rows in `getAnnIds` order (without `use_cats`: by `cat_ids` order first).
    pub gt: Rows,
    /// Detection rows stable-sorted by decreasing score (`np.argsort(-s, kind='mergesort')`)
    /// and truncated to `max_det`.
    pub dt: Rows,
    /// Where its detections start in the evaluation's per-detection arenas (scores; the
    /// statuses at `dt_at * T`): the cells' `dt` lengths summed in cell order.
    pub dt_at: usize,
    /// D x G IoU or OKS (entry `(d, g)` at `g * D + d`); empty where pycocotools has `[]`.
    pub ious: SmallVec<[f64; 2]>,
}

/// An integer key that sorts scores as `np.argsort(-s)` does: larger first, -0.0 tied with
/// 0.0, NaN last.
pub(super) fn descending_key(s: f64) -> u64 {
    if s.is_nan() {
        return u64::MAX;
    }
    // `+ 0.0` turns -0.0 into 0.0; then the usual order-preserving map of the bits.
    let bits = (s + 0.0).to_bits();
    let ascending = if bits >> 63 == 1 {
        !bits
    } else {
        bits | (1 << 63)
    };
    // Never u64::MAX for a number (that would need the bits of a NaN).
    !ascending - 1
}

/// Marks a row whose image is not in `img_ids`.
const OUTSIDE: u32 = u32::MAX;

/// The position in `img_ids` (sorted, distinct: image or category ids) of each of
/// `image_ids`, or [`OUTSIDE`]: through a table over the ids' range when it is dense (COCO's
/// ids are), else by binary search.
fn positions(img_ids: &[i64], image_ids: &[i64]) -> Vec<u32> {
    let search = |id: &i64| img_ids.binary_search(id).map_or(OUTSIDE, |i| i as u32);
    // min and max rather than the ends, so that ids out of order cannot index outside the
    // table (the table then gives each id its position; the search would not).
    let (Some(&lo), Some(&hi)) = (img_ids.iter().min(), img_ids.iter().max()) else {
        return vec![OUTSIDE; image_ids.len()];
    };
    let span = (hi as i128 - lo as i128 + 1) as u128;
    if span > 4 * img_ids.len() as u128 + 4096 || img_ids.len() >= OUTSIDE as usize {
        return image_ids.iter().map(search).collect();
    }
    let mut table = vec![OUTSIDE; span as usize];
    for (i, &id) in img_ids.iter().enumerate() {
        table[(id - lo) as usize] = i as u32;
    }
    image_ids
        .iter()
        .map(|&id| {
            if id < lo || id > hi {
                OUTSIDE
            } else {
                table[(id - lo) as usize]
            }
        })
        .collect()
}

/// A row keyed by its cell: (image position, category position, row).
type Key = (u32, u32, u32);

/// Rows of `anns` whose image is in `img_ids` and whose category is in `cats` (sorted,
/// distinct), keyed by (image position, category position) and sorted stably by that key:
/// each group keeps `getAnnIds` order. Two stable counting sorts, by category and then by
/// image: linear, and 12 bytes a row (these lists are the largest thing evaluate builds for
/// a big results file, and fresh pages are costly).
fn keyed(params: &Params, cats: &[i64], anns: &Anns) -> Vec<Key> {
    let images = positions(&params.img_ids, &anns.image_id);
    let categories = positions(cats, &anns.category_id);
    let inside = images
        .iter()
        .zip(&categories)
        .enumerate()
        .filter(|&(_, (&i, &c))| i != OUTSIDE && c != OUTSIDE)
        .map(|(r, (&i, &c))| (i, c, r as u32));
    let by_category = counting_sort(inside, cats.len(), |&(_, c, _)| c as usize);
    counting_sort(
        by_category.iter().copied(),
        params.img_ids.len(),
        |&(i, _, _)| i as usize,
    )
}

/// The end of the (image position, category position) group of keyed rows that starts at
/// `s`.
fn group_end(keyed: &[Key], s: usize) -> usize {
    let key = (keyed[s].0, keyed[s].1);
    s + keyed[s..]
        .iter()
        .position(|&(i, c, _)| (i, c) != key)
        .unwrap_or(keyed.len() - s)
}

/// The groups of one side by (image position, category position): ranges into the keyed
/// rows.
fn groups(keyed: &[Key]) -> Vec<(u32, u32, std::ops::Range<usize>)> {
    let mut out = Vec::new();
    let mut s = 0;
    while s < keyed.len() {
        let e = group_end(keyed, s);
        out.push((keyed[s].0, keyed[s].1, s..e));
        s = e;
    }
    out
}

/// `items` stably sorted by `bucket(item)` in `0..buckets`, in linear time (`items` is
/// walked twice: counting, then placing).
fn counting_sort<T: Copy + Default>(
    items: impl Iterator<Item = T> + Clone,
    buckets: usize,
    bucket: impl Fn(&T) -> usize,
) -> Vec<T> {
    let mut next = vec![0usize; buckets + 1];
    for item in items.clone() {
        next[bucket(&item) + 1] += 1;
    }
    for b in 1..next.len() {
        next[b] += next[b - 1];
    }
    let mut out = vec![T::default(); next[buckets]];
    for item in items {
        let slot = &mut next[bucket(&item)];
        out[*slot] = item;
        *slot += 1;
    }
    out
}

/// The cells of an evaluation, ordered by (category position, image position).
pub(super) fn group(params: &Params, gt: &Anns, dt: &Anns) -> Vec<Cell> {
    // The categories rows are kept for: with `use_cats`, `cat_ids` (sorted and distinct), so
    // a category position is a position in `cat_ids`; without, its distinct values.
    let mut cats = params.cat_ids.clone();
    cats.sort_unstable();
    cats.dedup();
    let cats = &cats;
    let (gk, dk) = if parallel::worth_parallel(2, gt.len() + dt.len()) {
        parallel::install(|| rayon::join(|| keyed(params, cats, gt), || keyed(params, cats, dt)))
    } else {
        (keyed(params, cats, gt), keyed(params, cats, dt))
    };
    let rows = |keyed: &[Key], r: std::ops::Range<usize>| -> Rows {
        keyed[r].iter().map(|&(_, _, row)| row).collect()
    };
    let mut cells: Vec<Cell> = Vec::new();
    if params.use_cats {
        // `cat_ids` is sorted and distinct: a cell per (category, image) group of either side,
        // found by merging the two keyed lists (both sorted by (image, category)) group by
        // group; then ordered by category with a counting sort, which keeps image order.
        // Entries are compact: (category position, image position, gt rows, dt rows), row
        // ranges as (start, end) into the keyed lists.
        type Entry = (u32, u32, (u32, u32), (u32, u32));
        let mut entries: Vec<Entry> = Vec::new();
        let (mut x, mut y) = (0usize, 0usize);
        loop {
            let gkey = gk.get(x).map(|g| (g.0, g.1));
            let dkey = dk.get(y).map(|d| (d.0, d.1));
            let key = match (gkey, dkey) {
                (Some(a), Some(b)) => a.min(b),
                (Some(a), None) | (None, Some(a)) => a,
                (None, None) => break,
            };
            let (mut g, mut d) = ((x as u32, x as u32), (y as u32, y as u32));
            if gkey == Some(key) {
                let e = group_end(&gk, x);
                g = (x as u32, e as u32);
                x = e;
            }
            if dkey == Some(key) {
                let e = group_end(&dk, y);
                d = (y as u32, e as u32);
                y = e;
            }
            entries.push((key.1, key.0, g, d));
        }
        let sorted = counting_sort(entries.iter().copied(), params.cat_ids.len(), |e| {
            e.0 as usize
        });
        let cell = |&(k, i, g, d): &Entry| Cell {
            k,
            i,
            gt: rows(&gk, g.0 as usize..g.1 as usize),
            dt: rows(&dk, d.0 as usize..d.1 as usize),
            ..Cell::default()
        };
        cells = if parallel::worth_parallel(sorted.len(), gt.len() + dt.len()) {
            parallel::install(|| sorted.par_iter().map(cell).collect())
        } else {
            sorted.iter().map(cell).collect()
        };
    } else {
        // One cell per image: the groups of `cat_ids` in its order (a repeated id repeats).
        let (gg, dg) = (groups(&gk), groups(&dk));
        let find = |gs: &[(u32, u32, std::ops::Range<usize>)], i: u32, c: i64| {
            let c = cats.binary_search(&c).ok()? as u32;
            gs.binary_search_by(|(gi, gc, _)| (*gi, *gc).cmp(&(i, c)))
                .ok()
                .map(|p| gs[p].2.clone())
        };
        let mut images: Vec<u32> = gg.iter().chain(&dg).map(|g| g.0).collect();
        images.dedup();
        images.sort_unstable();
        images.dedup();
        for i in images {
            let mut cell = Cell {
                k: 0,
                i,
                ..Cell::default()
            };
            for &c in &params.cat_ids {
                if let Some(r) = find(&gg, i, c) {
                    cell.gt.extend(rows(&gk, r));
                }
                if let Some(r) = find(&dg, i, c) {
                    cell.dt.extend(rows(&dk, r));
                }
            }
            if !(cell.gt.is_empty() && cell.dt.is_empty()) {
                cells.push(cell);
            }
        }
    }
    let finish = |cell: &mut Cell| {
        cell.dt
            .sort_by_key(|&d| descending_key(dt.score[d as usize]));
        cell.dt.truncate(params.max_det);
    };
    if parallel::worth_parallel(cells.len(), dt.len() * 8) {
        parallel::install(|| cells.par_iter_mut().for_each(finish));
    } else {
        cells.iter_mut().for_each(finish);
    }
    cells
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_by_table_and_by_search_agree() {
        let ids = [3i64, 5, 6, 10, 11];
        let queries = [10i64, 2, 3, 11, 12, 4, 6, -7, i64::MAX];
        let want: Vec<u32> = queries
            .iter()
            .map(|q| ids.binary_search(q).map_or(OUTSIDE, |i| i as u32))
            .collect();
        // Dense ids go through the table.
        assert_eq!(positions(&ids, &queries), want);
        // Sparse ids through the search.
        let sparse = [1i64, 1 << 40];
        assert_eq!(positions(&sparse, &[1, 1 << 40, 7]), vec![0, 1, OUTSIDE]);
        // Ids out of order (not what evaluate passes) must not index outside the table.
        assert_eq!(positions(&[5, 2, 9], &[2, 9, 5, 1]), vec![1, 2, 0, OUTSIDE]);
        assert_eq!(positions(&[], &[1, 2]), vec![OUTSIDE, OUTSIDE]);
    }
}
