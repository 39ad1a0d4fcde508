//! Compact columns and lookups of the index: plain arrays, no map of boxed objects.

/// An integer column stored in 32 bits when every value fits (ids almost always do), else 64.
#[derive(Debug, Clone)]
pub enum IntColumn {
    Narrow(Vec<i32>),
    Wide(Vec<i64>),
}

impl Default for IntColumn {
    fn default() -> Self {
        IntColumn::Narrow(Vec::new())
    }
}

impl IntColumn {
    pub fn from_vec(values: Vec<i64>) -> IntColumn {
        if values.iter().all(|&v| i32::try_from(v).is_ok()) {
            IntColumn::Narrow(values.into_iter().map(|v| v as i32).collect())
        } else {
            let mut values = values;
            values.shrink_to_fit();
            IntColumn::Wide(values)
        }
    }

    /// Appends `value`, widening the column (once) if it does not fit 32 bits: the scan builds
    /// columns this way, so ids never take 64 bits each unless they need them.
    pub fn push(&mut self, value: i64) {
        match self {
            IntColumn::Narrow(v) => match i32::try_from(value) {
                Ok(x) => v.push(x),
                Err(_) => {
                    let mut wide: Vec<i64> = v.iter().map(|&x| i64::from(x)).collect();
                    wide.push(value);
                    *self = IntColumn::Wide(wide);
                }
            },
            IntColumn::Wide(v) => v.push(value),
        }
    }

    pub fn shrink_to_fit(&mut self) {
        match self {
            IntColumn::Narrow(v) => v.shrink_to_fit(),
            IntColumn::Wide(v) => v.shrink_to_fit(),
        }
    }

    pub fn len(&self) -> usize {
        match self {
            IntColumn::Narrow(v) => v.len(),
            IntColumn::Wide(v) => v.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The value at `row` (rows come from the index itself, so they are in range; an out of
    /// range row reads as 0 rather than panicking).
    pub fn get(&self, row: usize) -> i64 {
        match self {
            IntColumn::Narrow(v) => v.get(row).map_or(0, |&x| i64::from(x)),
            IntColumn::Wide(v) => v.get(row).copied().unwrap_or(0),
        }
    }

    pub fn to_vec(&self) -> Vec<i64> {
        match self {
            IntColumn::Narrow(v) => v.iter().map(|&x| i64::from(x)).collect(),
            IntColumn::Wide(v) => v.clone(),
        }
    }

    /// Rows whose value is `value`, in order.
    pub fn rows_equal(&self, value: i64) -> Vec<u32> {
        match self {
            IntColumn::Narrow(v) => match i32::try_from(value) {
                Ok(x) => positions(v, |&y| y == x),
                Err(_) => Vec::new(),
            },
            IntColumn::Wide(v) => positions(v, |&y| y == value),
        }
    }

    pub fn bytes(&self) -> usize {
        match self {
            IntColumn::Narrow(v) => v.capacity() * 4,
            IntColumn::Wide(v) => v.capacity() * 8,
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

/// id -> row by binary search. When the ids are strictly increasing (the common case) the
/// column itself is searched and nothing is stored; otherwise a permutation sorted by (id, row).
/// With repeated ids the last row wins, as `d[id] = record` does in pycocotools.
#[derive(Debug, Clone, Default)]
pub struct IdLookup {
    order: Option<Vec<u32>>,
}

impl IdLookup {
    pub fn new(ids: &IntColumn) -> IdLookup {
        let n = ids.len();
        let increasing = (1..n).all(|i| ids.get(i - 1) < ids.get(i));
        if increasing {
            return IdLookup { order: None };
        }
        let mut order: Vec<u32> = (0..n as u32).collect();
        // Stable: equal ids keep row order, so the last of a run is the last in the file.
        order.sort_by_key(|&r| ids.get(r as usize));
        IdLookup { order: Some(order) }
    }

    /// Whether some id occurs more than once (then a warning is due).
    pub fn has_duplicates(&self, ids: &IntColumn) -> bool {
        match &self.order {
            None => false,
            Some(order) => order
                .windows(2)
                .any(|w| ids.get(w[0] as usize) == ids.get(w[1] as usize)),
        }
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
        // Group number of each row, by first appearance of its key.
        let mut first: std::collections::HashMap<i64, u32> = std::collections::HashMap::new();
        let mut keys = Vec::new();
        let mut group_of = Vec::with_capacity(n);
        for r in 0..n {
            let k = column.get(r);
            let g = *first.entry(k).or_insert_with(|| {
                keys.push(k);
                (keys.len() - 1) as u32
            });
            group_of.push(g);
        }
        drop(first);
        // Counting sort of rows by group (stable: file order inside a group).
        let mut starts = vec![0u32; keys.len() + 1];
        for &g in &group_of {
            starts[g as usize + 1] += 1;
        }
        for i in 1..starts.len() {
            starts[i] += starts[i - 1];
        }
        let mut fill = starts.clone();
        let mut rows = vec![0u32; n];
        for (r, &g) in group_of.iter().enumerate() {
            let slot = &mut fill[g as usize];
            rows[*slot as usize] = r as u32;
            *slot += 1;
        }
        let keys = IntColumn::from_vec(keys);
        drop(group_of);
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
    let mut seen = std::collections::HashSet::new();
    (0..column.len())
        .map(|r| column.get(r))
        .filter(|k| seen.insert(*k))
        .collect()
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
        assert!(!lk.has_duplicates(&sorted));
        let dup = IntColumn::from_vec(vec![5, 2, 5, 1 << 40, 2]);
        assert!(matches!(dup, IntColumn::Wide(_)));
        let lk = IdLookup::new(&dup);
        assert_eq!(lk.find(&dup, 5), Some(2));
        assert_eq!(lk.find(&dup, 2), Some(4));
        assert_eq!(lk.find(&dup, 1 << 40), Some(3));
        assert_eq!(lk.find(&dup, 0), None);
        assert!(lk.has_duplicates(&dup));
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
