//! The one error type of the core. The binding crate maps each variant to a Python exception
//! exactly once (no catch-all arm), so a new variant cannot slip through unmapped.

use thiserror::Error;

/// Everything that can go wrong in the core. Offsets are byte offsets into the input that was
/// given (an RLE counts string); positions are indices into a coordinate list.
#[derive(Debug, Clone, PartialEq, Error)]
pub enum Error {
    /// A counts string holds a byte outside the codec alphabet `'0'..='o'`.
    #[error("invalid byte {byte:#04x} at offset {offset} of the RLE counts string (expected a character in '0'..'o')")]
    RleBadByte { offset: usize, byte: u8 },

    /// A counts string ends while a value still announces more groups.
    #[error(
        "RLE counts string is truncated: the value starting at offset {offset} is not finished"
    )]
    RleTruncated { offset: usize },

    /// A decoded value is not a run length in `0..2^32` (or uses more than 7 groups).
    #[error(
        "RLE counts string: the value starting at offset {offset} is not a run length in 0..2^32"
    )]
    RleRunOutOfRange { offset: usize },

    /// The runs do not cover the mask exactly.
    #[error("RLE counts sum to {sum} but its size {h}x{w} has {pixels} pixels", pixels = h * w)]
    RleCountsSum { sum: u64, h: u64, w: u64 },

    /// Empty runs inside an RLE end pycocotools' run walk (merge, IoU) before the last pixel,
    /// so its result would be wrong (or, for later merge steps, never come).
    #[error("RLE runs with empty lengths inside stop the run walk after {walked} of {pixels} pixels, where pycocotools returns a wrong result or never returns; drop the empty runs")]
    RleWalkEndsEarly { walked: u64, pixels: u64 },

    /// A mask size whose pixel count does not fit the 32-bit run lengths of the format.
    #[error("mask size {h}x{w} is too large: height, width and h*w must each be below 2^32")]
    SizeTooLarge { h: u64, w: u64 },

    /// A polygon or box coordinate that is not finite or is absurdly large.
    #[error("coordinate {value:?} at position {position} is not a finite number within +/-{limit:e}", limit = crate::rle::poly::COORD_LIMIT)]
    BadCoordinate { position: usize, value: f64 },

    /// Malformed JSON: where (byte offset, and line:column once the file is known) and what
    /// was expected there.
    #[error("{}invalid JSON at byte {offset}: expected {expected}", located(path, *line, *column))]
    Parse {
        path: String,
        offset: u64,
        line: u64,
        column: u64,
        expected: &'static str,
    },

    /// Valid JSON that is not a COCO document: a record (e.g. `annotations[3] (id 17)`) whose
    /// field has the wrong type or shape, or a missing required field.
    #[error("{}{record}{}: expected {expected}", in_file(path), field_name(field))]
    Schema {
        path: String,
        record: String,
        field: String,
        expected: String,
    },

    /// The file could not be opened or read.
    #[error("{}{message}", in_file(path))]
    Io { path: String, message: String },

    /// The file changed (truncated or rewritten) after it was indexed.
    #[error(
        "{}the file changed after it was indexed ({what}); open it again",
        in_file(path)
    )]
    FileChanged { path: String, what: String },

    /// An output buffer handed to a batch operation does not match its inputs (a caller's bug,
    /// reported rather than written past or left half-filled).
    #[error("output holds {got} values where {expected} are needed")]
    OutputSize { expected: usize, got: usize },

    /// COCOeval inputs or parameters it cannot evaluate (what and where in the message).
    #[error("COCOeval: {0}")]
    Eval(String),

    /// An error about one item of a batch, with the item's index and, where a call takes two
    /// lists (iou's `dt` and `gt`), the list's name.
    #[error("{}: {source}", item_name(list, *index))]
    Item {
        list: &'static str,
        index: usize,
        source: Box<Error>,
    },
}

/// `item 3`, or `dt[3]` for an item of a named list.
fn item_name(list: &str, index: usize) -> String {
    if list.is_empty() {
        format!("item {index}")
    } else {
        format!("{list}[{index}]")
    }
}

impl Error {
    /// Wraps `self` with the index of the batch item it is about.
    pub fn at_item(self, index: usize) -> Error {
        Error::Item {
            list: "",
            index,
            source: Box::new(self),
        }
    }

    /// The same error with its batch-item index moved on by `by`, for a batch that was handed
    /// over in blocks (no change for other errors).
    pub fn after_items(mut self, by: usize) -> Error {
        if let Error::Item { index, .. } = &mut self {
            *index += by;
        }
        self
    }

    /// Names the list that the item of this error belongs to (no change for other errors).
    pub fn in_list(mut self, name: &'static str) -> Error {
        if let Error::Item { list, .. } = &mut self {
            *list = name;
        }
        self
    }

    /// The same error naming the file it is about.
    pub fn in_path(mut self, file: &str) -> Error {
        match &mut self {
            Error::Parse { path, .. }
            | Error::Schema { path, .. }
            | Error::Io { path, .. }
            | Error::FileChanged { path, .. } => *path = file.to_owned(),
            _ => {}
        }
        self
    }

    /// The error without its batch-item wrappers: what kind of problem it is.
    pub fn innermost(&self) -> &Error {
        match self {
            Error::Item { source, .. } => source.innermost(),
            other => other,
        }
    }
}

fn in_file(path: &str) -> String {
    if path.is_empty() {
        String::new()
    } else {
        format!("{path}: ")
    }
}

/// `path:line:column: ` as compilers write it (what is known of it).
fn located(path: &str, line: u64, column: u64) -> String {
    match (path.is_empty(), line) {
        (true, 0) => String::new(),
        (true, _) => format!("{line}:{column}: "),
        (false, 0) => format!("{path}: "),
        (false, _) => format!("{path}:{line}:{column}: "),
    }
}

fn field_name(field: &str) -> String {
    if field.is_empty() {
        String::new()
    } else {
        format!(", field '{field}'")
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;
