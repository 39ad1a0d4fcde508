//! A validating JSON lexer over a byte window, and the value tree built from one record's bytes.
//!
//! It accepts exactly what Python's `json` module accepts (what pycocotools reads with
//! `json.load`): RFC 8259 plus `NaN`, `Infinity` and `-Infinity`; raw control characters in
//! strings are refused (strict mode) and lone surrogates from `\u` escapes are kept. Numbers
//! keep Python's types: an integer literal stays an integer (any size), everything else is a
//! correctly rounded f64 (Rust's `str::parse::<f64>` rounds correctly, as `float()` does; parity
//! depends on it: a one-ulp area moves an annotation between area ranges).
//!
//! The lexer works on a window of the file that may end mid-token: running out of bytes gives
//! [`Stop::More`] unless the window holds the end of the file, so the streaming scanner can
//! read more and retry the step.

use std::borrow::Cow;
use wide::u8x16;

/// Python's json nests at most about this deep before `RecursionError`; deeper input is refused
/// (and recursion stays far from the thread's stack limit).
pub const MAX_DEPTH: usize = 1000;

/// Why a lexing step did not complete.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    /// The window ended before the token did; read more and retry.
    More,
    /// Malformed input at window position `pos`.
    Bad { pos: usize, expected: &'static str },
}

pub type Step<T> = std::result::Result<T, Stop>;

/// A JSON number as Python's json module would return it.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Number {
    Int(i64),
    /// An integer literal beyond i64: `start..end` in the window, for arbitrary precision.
    BigInt {
        start: usize,
        end: usize,
    },
    Float(f64),
}

/// A parsed JSON value (one record's worth: built only when someone asks for the record).
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Null,
    Bool(bool),
    Int(i64),
    /// Decimal digits (with sign) of an integer beyond i64.
    BigInt(String),
    Float(f64),
    Str(String),
    /// A string holding lone surrogates, as UTF-8 with surrogates encoded (to be decoded with
    /// Python's `surrogatepass`).
    StrSurrogates(Vec<u8>),
    Array(Vec<Value>),
    /// Members in document order, keys as `Str` (or `StrSurrogates`); a repeated key is kept
    /// as it comes (the consumer builds a dict, where the last value wins at the first
    /// position, as in Python).
    Object(Vec<(Value, Value)>),
}

impl Value {
    /// The value of the last member named `key` (Python's dict semantics).
    pub fn get(&self, key: &str) -> Option<&Value> {
        match self {
            Value::Object(members) => members
                .iter()
                .rev()
                .find(|(k, _)| matches!(k, Value::Str(k) if k == key))
                .map(|m| &m.1),
            _ => None,
        }
    }

    /// The value as f64 if it is a number.
    pub fn as_f64(&self) -> Option<f64> {
        match self {
            Value::Int(i) => Some(*i as f64),
            Value::Float(f) => Some(*f),
            Value::BigInt(s) => s.parse::<f64>().ok(),
            _ => None,
        }
    }
}

/// A cursor over a window of JSON bytes. `eof` says whether the window ends where the input
/// ends (then running out is an error rather than [`Stop::More`]).
pub struct Lexer<'a> {
    pub buf: &'a [u8],
    pub pos: usize,
    pub eof: bool,
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r')
}

impl<'a> Lexer<'a> {
    pub fn new(buf: &'a [u8], pos: usize, eof: bool) -> Self {
        Lexer { buf, pos, eof }
    }

    /// Running out of bytes at `pos`.
    fn out(&self, expected: &'static str) -> Stop {
        if self.eof {
            Stop::Bad {
                pos: self.buf.len(),
                expected,
            }
        } else {
            Stop::More
        }
    }

    fn bad<T>(&self, pos: usize, expected: &'static str) -> Step<T> {
        Err(Stop::Bad { pos, expected })
    }

    /// Skips whitespace and returns the next byte (not consumed).
    #[inline]
    pub fn peek(&mut self, expected: &'static str) -> Step<u8> {
        // Compact JSON: the next byte is no whitespace (every JSON whitespace is below '!').
        if let Some(&b) = self.buf.get(self.pos) {
            if b > b' ' {
                return Ok(b);
            }
        }
        self.peek_past_whitespace(expected)
    }

    #[inline(never)]
    fn peek_past_whitespace(&mut self, expected: &'static str) -> Step<u8> {
        while let Some(&b) = self.buf.get(self.pos) {
            if !is_ws(b) {
                return Ok(b);
            }
            self.pos += 1;
        }
        Err(self.out(expected))
    }

    /// Skips whitespace; true if the window (and the input) ends here.
    pub fn at_end(&mut self) -> Step<bool> {
        match self.peek("end of input") {
            Ok(_) => Ok(false),
            Err(Stop::Bad { .. }) => Ok(true),
            Err(Stop::More) => Err(Stop::More),
        }
    }

    /// Consumes `byte` (after whitespace) or fails with `expected`.
    pub fn expect(&mut self, byte: u8, expected: &'static str) -> Step<()> {
        if self.peek(expected)? == byte {
            self.pos += 1;
            Ok(())
        } else {
            self.bad(self.pos, expected)
        }
    }

    fn literal(&mut self, word: &'static [u8], expected: &'static str) -> Step<()> {
        let start = self.pos;
        for (i, &c) in word.iter().enumerate() {
            match self.buf.get(start + i) {
                Some(&b) if b == c => {}
                Some(_) => return self.bad(start, expected),
                None => return Err(self.out(expected)),
            }
        }
        self.pos = start + word.len();
        Ok(())
    }

    /// Scans a number literal's grammar; returns its end and whether it is an integer literal.
    pub fn number_span(&self) -> Step<(usize, bool)> {
        const WHAT: &str = "a number";
        let buf = self.buf;
        let mut p = self.pos;
        let at = |p: usize| -> Step<u8> {
            match buf.get(p) {
                Some(&b) => Ok(b),
                None => Err(self.out(WHAT)),
            }
        };
        // A number may end at the end of the window only if the input ends there too.
        let end_ok = |p: usize| -> Step<u8> {
            match buf.get(p) {
                Some(&b) => Ok(b),
                None if self.eof => Ok(b' '),
                None => Err(Stop::More),
            }
        };
        if at(p)? == b'-' {
            p += 1;
        }
        match at(p)? {
            b'0' => p += 1,
            b'1'..=b'9' => {
                p += 1;
                while end_ok(p)?.is_ascii_digit() {
                    p += 1;
                }
            }
            _ => return self.bad(p, if p == self.pos { "a value" } else { WHAT }),
        }
        let mut integer = true;
        if end_ok(p)? == b'.' {
            integer = false;
            p += 1;
            if !at(p)?.is_ascii_digit() {
                return self.bad(p, "a digit after the decimal point");
            }
            while end_ok(p)?.is_ascii_digit() {
                p += 1;
            }
        }
        if matches!(end_ok(p)?, b'e' | b'E') {
            integer = false;
            p += 1;
            if matches!(at(p)?, b'+' | b'-') {
                p += 1;
            }
            if !at(p)?.is_ascii_digit() {
                return self.bad(p, "a digit in the exponent");
            }
            while end_ok(p)?.is_ascii_digit() {
                p += 1;
            }
        }
        Ok((p, integer))
    }

    /// Skips a number (or `NaN` / `Infinity` / `-Infinity`), checking its grammar only.
    #[inline]
    pub fn skip_number(&mut self) -> Step<()> {
        if let Some(end) = plain_number_end(self.buf, self.pos) {
            self.pos = end;
            return Ok(());
        }
        match self.buf.get(self.pos) {
            Some(b'N' | b'I') => {
                self.number()?;
            }
            Some(b'-') if self.buf.get(self.pos + 1) == Some(&b'I') => {
                self.number()?;
            }
            _ => self.pos = self.number_span()?.0,
        }
        Ok(())
    }

    /// A number, or `NaN` / `Infinity` / `-Infinity` as Python's json reads them.
    #[inline]
    pub fn number(&mut self) -> Step<Number> {
        // The common form, inlined where record fields are read; the rest below.
        let plain = plain_decimal(self.buf, self.pos);
        if let Some(d) = plain {
            if let Some(n) = d.number() {
                self.pos = d.end;
                return Ok(n);
            }
        }
        self.any_number(plain)
    }

    /// [`Lexer::number`] past its fast path; `plain` is what [`plain_decimal`] read there.
    #[inline(never)]
    fn any_number(&mut self, plain: Option<PlainDecimal>) -> Step<Number> {
        match self.peek("a value")? {
            b'N' => {
                self.literal(b"NaN", "a value")?;
                return Ok(Number::Float(f64::NAN));
            }
            b'I' => {
                self.literal(b"Infinity", "a value")?;
                return Ok(Number::Float(f64::INFINITY));
            }
            b'-' if self.buf.get(self.pos + 1) == Some(&b'I') => {
                self.literal(b"-Infinity", "a value")?;
                return Ok(Number::Float(f64::NEG_INFINITY));
            }
            _ => {}
        }
        let start = self.pos;
        // The common form is read word at a time, digits and all (most numbers of a record).
        if let Some(d) = plain {
            self.pos = d.end;
            if let Some(n) = d.number() {
                return Ok(n);
            }
            // Too many digits for an exact division: the full parse below.
            let text = std::str::from_utf8(&self.buf[start..d.end]).unwrap_or("");
            return match text.parse::<f64>() {
                Ok(f) => Ok(Number::Float(f)),
                Err(_) => self.bad(start, "a number"),
            };
        }
        // The grammar walk decides the rest.
        let (end, integer) = match plain_number_end(self.buf, start) {
            Some(end) => (end, None),
            None => {
                let (end, integer) = self.number_span()?;
                (end, Some(integer))
            }
        };
        self.pos = end;
        if let Some(n) = short_number(&self.buf[start..end]) {
            return Ok(n);
        }
        let integer = integer.unwrap_or_else(|| !self.buf[start..end].contains(&b'.'));
        // The span holds only ASCII digits, signs, '.', 'e' and 'E'.
        let text = std::str::from_utf8(&self.buf[start..end]).unwrap_or("");
        if integer {
            match text.parse::<i64>() {
                Ok(i) => Ok(Number::Int(i)),
                Err(_) => Ok(Number::BigInt { start, end }),
            }
        } else {
            match text.parse::<f64>() {
                Ok(f) => Ok(Number::Float(f)),
                Err(_) => self.bad(start, "a number"),
            }
        }
    }

    /// Reads four hex digits of a `\u` escape at `p`.
    fn hex4(&self, p: usize) -> Step<u32> {
        let mut v = 0u32;
        for i in 0..4 {
            let b = match self.buf.get(p + i) {
                Some(&b) => b,
                None => return Err(self.out("four hex digits after \\u")),
            };
            let d = match b {
                b'0'..=b'9' => b - b'0',
                b'a'..=b'f' => b - b'a' + 10,
                b'A'..=b'F' => b - b'A' + 10,
                _ => return self.bad(p + i, "four hex digits after \\u"),
            };
            v = v * 16 + u32::from(d);
        }
        Ok(v)
    }

    /// Skips a string (the opening quote at `pos`), validating escapes, control characters and
    /// UTF-8. Returns whether it holds escapes.
    pub fn skip_string(&mut self) -> Step<bool> {
        let start = self.pos;
        let mut p = start + 1;
        let mut escaped = false;
        let mut ascii = true;
        loop {
            p = plain_string_bytes(self.buf, p);
            let Some(&b) = self.buf.get(p) else {
                return Err(self.out("the end of a string ('\"')"));
            };
            match b {
                b'"' => break,
                b'\\' => {
                    escaped = true;
                    match self.buf.get(p + 1) {
                        None => return Err(self.out("an escape sequence")),
                        Some(b'"' | b'\\' | b'/' | b'b' | b'f' | b'n' | b'r' | b't') => p += 2,
                        Some(b'u') => {
                            self.hex4(p + 2)?;
                            p += 6;
                        }
                        Some(_) => return self.bad(p, "a valid escape sequence"),
                    }
                }
                0..=0x1f => return self.bad(p, "no control character inside a string"),
                0x80.. => {
                    ascii = false;
                    p += 1;
                }
                _ => p += 1,
            }
        }
        if !ascii && std::str::from_utf8(&self.buf[start + 1..p]).is_err() {
            return self.bad(start, "a string of valid UTF-8");
        }
        self.pos = p + 1;
        Ok(escaped)
    }

    /// The key at `pos` (a '"') if it holds no escape, control or non-ASCII byte, found word at
    /// a time and borrowed, the lexer moved past it; None, the lexer unmoved, for any other
    /// key, which [`Lexer::string`] reads. Record keys are about a tenth of a scan.
    #[inline]
    pub fn plain_key(&mut self) -> Option<&'a [u8]> {
        let start = self.pos + 1;
        let end = plain_string_bytes(self.buf, start);
        // Every byte before `end` is plain, so a '"' there closes the key.
        if self.buf.get(end) != Some(&b'"') {
            return None;
        }
        self.pos = end + 1;
        self.buf.get(start..end)
    }

    /// A string's content with escapes decoded (lone surrogates encoded as in WTF-8; the flag
    /// says whether there are any).
    pub fn string(&mut self) -> Step<(Cow<'a, [u8]>, bool)> {
        let start = self.pos;
        let escaped = self.skip_string()?;
        let raw: &'a [u8] = &self.buf[start + 1..self.pos - 1];
        if !escaped {
            return Ok((Cow::Borrowed(raw), false));
        }
        let mut out = Vec::with_capacity(raw.len());
        let mut surrogates = false;
        let mut i = 0;
        while i < raw.len() {
            let b = raw[i];
            if b != b'\\' {
                out.push(b);
                i += 1;
                continue;
            }
            let esc = raw[i + 1];
            i += 2;
            let simple = match esc {
                b'"' => Some(b'"'),
                b'\\' => Some(b'\\'),
                b'/' => Some(b'/'),
                b'b' => Some(0x08),
                b'f' => Some(0x0c),
                b'n' => Some(b'\n'),
                b'r' => Some(b'\r'),
                b't' => Some(b'\t'),
                _ => None,
            };
            if let Some(c) = simple {
                out.push(c);
                continue;
            }
            // `\uXXXX`, validated by skip_string; a high surrogate followed by a low one is
            // one character, as in Python.
            let at = start + 1 + i;
            let mut cp = self.hex4(at)?;
            i += 4;
            if (0xD800..0xDC00).contains(&cp)
                && raw.get(i) == Some(&b'\\')
                && raw.get(i + 1) == Some(&b'u')
            {
                let low = self.hex4(start + 1 + i + 2)?;
                if (0xDC00..0xE000).contains(&low) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
                    i += 6;
                }
            }
            match char::from_u32(cp) {
                Some(c) => {
                    let mut tmp = [0u8; 4];
                    out.extend_from_slice(c.encode_utf8(&mut tmp).as_bytes());
                }
                None => {
                    // A lone surrogate: the three bytes UTF-8 would use for it.
                    surrogates = true;
                    out.push(0xE0 | (cp >> 12) as u8);
                    out.push(0x80 | ((cp >> 6) & 0x3F) as u8);
                    out.push(0x80 | (cp & 0x3F) as u8);
                }
            }
        }
        Ok((Cow::Owned(out), surrogates))
    }

    /// Skips one value of any kind, validating it completely. Iterative (an explicit nesting
    /// stack), so deep input cannot overflow the thread's stack; `depth` is the nesting the
    /// value sits at, for the depth limit.
    pub fn skip_value(&mut self, depth: usize) -> Step<()> {
        // One bit per open container: 1 for an object. Levels past 64 live in `deep`.
        let (mut bits, mut level, mut deep): (u64, usize, Vec<bool>) = (0, 0, Vec::new());
        loop {
            // A value starts here.
            match self.peek("a value")? {
                open @ (b'{' | b'[') => {
                    if depth + level >= MAX_DEPTH {
                        return self.bad(self.pos, "nesting at most 1000 levels deep");
                    }
                    self.pos += 1;
                    let object = open == b'{';
                    let close = if object { b'}' } else { b']' };
                    if self.peek("a value or a closing bracket")? == close {
                        self.pos += 1;
                    } else {
                        if level < 64 {
                            bits = (bits & !(1u64 << level)) | (u64::from(object) << level);
                        } else {
                            deep.push(object);
                        }
                        level += 1;
                        if object {
                            self.member_key()?;
                        }
                        continue;
                    }
                }
                b'"' => {
                    self.skip_string()?;
                }
                b't' => self.literal(b"true", "a value")?,
                b'f' => self.literal(b"false", "a value")?,
                b'n' => self.literal(b"null", "a value")?,
                _ => {
                    self.skip_number()?;
                    let in_array = level > 0
                        && if level <= 64 {
                            bits & (1u64 << (level - 1)) == 0
                        } else {
                            !deep.last().copied().unwrap_or(false)
                        };
                    if in_array {
                        // A run of plain numbers (a polygon, keypoints: most of a COCO file)
                        // is walked here rather than value by value through the general loop.
                        while self.buf.get(self.pos) == Some(&b',') {
                            if let Some(end) = plain_number_run(self.buf, self.pos + 1) {
                                self.pos = end;
                                continue;
                            }
                            let mut p = self.pos + 1;
                            while self.buf.get(p).is_some_and(|&b| is_ws(b)) {
                                p += 1;
                            }
                            match plain_number_end(self.buf, p) {
                                Some(end) => self.pos = end,
                                // Anything else: the general loop takes the ',' from here.
                                None => break,
                            }
                        }
                    }
                }
            }
            // After a value: close containers until one continues with ','.
            loop {
                if level == 0 {
                    return Ok(());
                }
                let object = if level <= 64 {
                    bits & (1u64 << (level - 1)) != 0
                } else {
                    deep.last().copied().unwrap_or(false)
                };
                let (close, expected) = if object {
                    (b'}', "',' or '}'")
                } else {
                    (b']', "',' or ']'")
                };
                match self.peek(expected)? {
                    b',' => {
                        self.pos += 1;
                        if object {
                            self.member_key()?;
                        }
                        break;
                    }
                    b if b == close => {
                        self.pos += 1;
                        if level > 64 {
                            deep.pop();
                        }
                        level -= 1;
                    }
                    _ => return self.bad(self.pos, expected),
                }
            }
        }
    }

    /// A member's key and its ':' (skipped).
    fn member_key(&mut self) -> Step<()> {
        if self.peek("a key (a string)")? != b'"' {
            return self.bad(self.pos, "a key (a string)");
        }
        self.skip_string()?;
        self.expect(b':', "':' after a key")
    }

    /// Parses one value into a tree (iteratively, like [`Lexer::skip_value`]).
    pub fn value(&mut self, depth: usize) -> Step<Value> {
        enum Open {
            Array(Vec<Value>),
            Object(Vec<(Value, Value)>, Value),
        }
        let mut stack: Vec<Open> = Vec::new();
        loop {
            let mut v = match self.peek("a value")? {
                open @ (b'{' | b'[') => {
                    if depth + stack.len() >= MAX_DEPTH {
                        return self.bad(self.pos, "nesting at most 1000 levels deep");
                    }
                    self.pos += 1;
                    if open == b'{' {
                        if self.peek("a key or '}'")? == b'}' {
                            self.pos += 1;
                            Value::Object(Vec::new())
                        } else {
                            let key = self.member_key_text()?;
                            stack.push(Open::Object(Vec::new(), key));
                            continue;
                        }
                    } else if self.peek("a value or ']'")? == b']' {
                        self.pos += 1;
                        Value::Array(Vec::new())
                    } else {
                        stack.push(Open::Array(Vec::new()));
                        continue;
                    }
                }
                b'"' => {
                    let (s, surrogates) = self.string()?;
                    string_value(s, surrogates)
                }
                b't' => self
                    .literal(b"true", "a value")
                    .map(|_| Value::Bool(true))?,
                b'f' => self
                    .literal(b"false", "a value")
                    .map(|_| Value::Bool(false))?,
                b'n' => self.literal(b"null", "a value").map(|_| Value::Null)?,
                _ => match self.number()? {
                    Number::Int(i) => Value::Int(i),
                    Number::Float(f) => Value::Float(f),
                    Number::BigInt { start, end } => {
                        Value::BigInt(String::from_utf8_lossy(&self.buf[start..end]).into_owned())
                    }
                },
            };
            // Place the finished value; close the containers it completes.
            loop {
                match stack.last_mut() {
                    None => return Ok(v),
                    Some(Open::Array(items)) => {
                        items.push(v);
                        match self.peek("',' or ']'")? {
                            b',' => {
                                self.pos += 1;
                                break;
                            }
                            b']' => {
                                self.pos += 1;
                                v = match stack.pop() {
                                    Some(Open::Array(items)) => Value::Array(items),
                                    _ => Value::Null,
                                };
                            }
                            _ => return self.bad(self.pos, "',' or ']'"),
                        }
                    }
                    Some(Open::Object(members, key)) => {
                        members.push((std::mem::replace(key, Value::Null), v));
                        match self.peek("',' or '}'")? {
                            b',' => {
                                self.pos += 1;
                                let next = self.member_key_text()?;
                                if let Some(Open::Object(_, key)) = stack.last_mut() {
                                    *key = next;
                                }
                                break;
                            }
                            b'}' => {
                                self.pos += 1;
                                v = match stack.pop() {
                                    Some(Open::Object(members, _)) => Value::Object(members),
                                    _ => Value::Null,
                                };
                            }
                            _ => return self.bad(self.pos, "',' or '}'"),
                        }
                    }
                }
            }
        }
    }

    /// A list of numbers, or a list of non-empty number lists (polygons), read straight into
    /// f64s as [`Value::as_f64`] reads numbers, without building values. None, with the
    /// position unchanged, where the value has any other shape (empty lists included): the
    /// caller then parses it as a [`Value`], which also reports any error at its place.
    pub fn numeric_array(&mut self) -> Step<Option<Numeric>> {
        let start = self.pos;
        let got = self.numeric_array_at();
        if !matches!(got, Ok(Some(_))) {
            self.pos = start;
        }
        match got {
            Err(Stop::More) => Err(Stop::More),
            Err(_) => Ok(None),
            ok => ok,
        }
    }

    fn numeric_array_at(&mut self) -> Step<Option<Numeric>> {
        self.expect(b'[', "a list")?;
        if self.peek("a value")? != b'[' {
            return Ok(self.numbers_rest()?.map(Numeric::Numbers));
        }
        let mut polys = Vec::new();
        loop {
            if self.peek("a polygon")? != b'[' {
                return Ok(None);
            }
            self.pos += 1;
            match self.numbers_rest()? {
                Some(xy) => polys.push(xy),
                None => return Ok(None),
            }
            match self.peek("',' or ']'")? {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(Some(Numeric::Polygons(polys)));
                }
                _ => return Ok(None),
            }
        }
    }

    /// A plain number at `pos` (`-?digits(.digits)?`, at most 18 digits, no exponent) read
    /// in one pass, as `number` and [`Value::as_f64`] would read it: an integer converted, a
    /// decimal as `m / 10^k`, which is correctly rounded where `m < 2^53` and `k <= 22` (both
    /// exact, one rounding). None, with `pos` unchanged, for anything else (the general path
    /// then reads or rejects it); numbers with a leading zero are never taken here.
    #[inline(always)]
    fn plain_f64(&mut self) -> Option<f64> {
        let buf = self.buf;
        let mut p = self.pos;
        let negative = buf.get(p) == Some(&b'-');
        p += usize::from(negative);
        let first = p;
        let (mut m, mut frac) = (0u64, 0usize);
        while let Some(d) = buf.get(p).map(|b| b.wrapping_sub(b'0')).filter(|&d| d < 10) {
            m = m.wrapping_mul(10).wrapping_add(u64::from(d));
            p += 1;
        }
        let int_digits = p - first;
        if int_digits == 0 || (int_digits > 1 && buf[first] == b'0') {
            return None;
        }
        if buf.get(p) == Some(&b'.') {
            p += 1;
            while let Some(d) = buf.get(p).map(|b| b.wrapping_sub(b'0')).filter(|&d| d < 10) {
                m = m.wrapping_mul(10).wrapping_add(u64::from(d));
                p += 1;
                frac += 1;
            }
            if frac == 0 {
                return None;
            }
        }
        if int_digits + frac > 18 || matches!(buf.get(p), Some(b'e' | b'E')) {
            return None;
        }
        let v = if frac == 0 {
            // An int: -0 is 0, as Python reads it.
            let i = m as i64;
            (if negative { -i } else { i }) as f64
        } else {
            if m >= 1 << 53 || frac > 22 {
                return None;
            }
            let v = m as f64 / POW10[frac];
            if negative {
                -v
            } else {
                v
            }
        };
        self.pos = p;
        Some(v)
    }

    /// After a '[': numbers up to the closing ']' (at least one), or None.
    fn numbers_rest(&mut self) -> Step<Option<Vec<f64>>> {
        // Room for a person's 51 keypoint values or a small polygon without regrowing.
        let mut xs = Vec::with_capacity(64);
        Ok(self.numbers_rest_into(&mut xs)?.then_some(xs))
    }

    /// [`Self::numbers_rest`] appending to `xs`: false where the list is not one of numbers
    /// (what was appended is then left for the caller to drop).
    fn numbers_rest_into(&mut self, xs: &mut Vec<f64>) -> Step<bool> {
        loop {
            // `0,` first: keypoints not labelled are `0,0,0`, a third to a half of the
            // numbers of a keypoint list (a polygon's rarely start so: one compare).
            if self.buf.get(self.pos..self.pos + 2) == Some(b"0,") {
                xs.push(0.0);
                self.pos += 2;
                continue;
            }
            // Then one to three digits and ',' (keypoint coordinates and flags are ints).
            if let Some(&[w0, w1, w2, w3]) = self.buf.get(self.pos..self.pos + 4) {
                let digit = |x: u8| x.wrapping_sub(b'0');
                let (a, b, c) = (digit(w0), digit(w1), digit(w2));
                if (1..10).contains(&a) {
                    let (value, len) = match (b < 10, c < 10) {
                        (false, _) => (u32::from(a), 1),
                        (true, false) => (u32::from(a) * 10 + u32::from(b), 2),
                        (true, true) => (u32::from(a) * 100 + u32::from(b) * 10 + u32::from(c), 3),
                    };
                    if [w1, w2, w3][len - 1] == b',' {
                        xs.push(f64::from(value));
                        self.pos += len + 1;
                        continue;
                    }
                }
            }
            // The common case first: a plain number right here, then ',' or ']' right after
            // it (no whitespace to skip).
            let x = match self.plain_f64() {
                Some(x) => x,
                None => {
                    match self.peek("a number")? {
                        b'-' | b'0'..=b'9' | b'N' | b'I' => {}
                        _ => return Ok(false),
                    }
                    match self.plain_f64() {
                        Some(x) => x,
                        None => match self.number()? {
                            Number::Int(i) => i as f64,
                            Number::Float(f) => f,
                            Number::BigInt { .. } => return Ok(false),
                        },
                    }
                }
            };
            xs.push(x);
            let next = match self.buf.get(self.pos) {
                Some(&b @ (b',' | b']')) => b,
                _ => self.peek("',' or ']'")?,
            };
            match next {
                b',' => self.pos += 1,
                b']' => {
                    self.pos += 1;
                    return Ok(true);
                }
                _ => return Ok(false),
            }
        }
    }

    /// Skips a value of a record that the index scan has already validated: containers are
    /// crossed by counting brackets outside strings, without looking at what they hold.
    /// (A record rewritten since the scan may then read wrongly but never out of bounds;
    /// the source's change check reports such files.)
    pub fn skip_validated(&mut self) -> Step<()> {
        let (open, close) = match self.peek("a value")? {
            b'[' => (b'[', b']'),
            b'{' => (b'{', b'}'),
            _ => return self.skip_value(1),
        };
        // Only this container's kind of bracket needs counting: the other kind balances
        // inside it. memchr3 finds the next bracket or string with SIMD.
        let mut depth = 0usize;
        while let Some(i) = memchr::memchr3(open, close, b'"', &self.buf[self.pos..]) {
            let b = self.buf[self.pos + i];
            self.pos += i;
            if b == b'"' {
                self.skip_string()?;
                continue;
            }
            self.pos += 1;
            if b == open {
                depth += 1;
            } else {
                depth -= 1;
                if depth == 0 {
                    return Ok(());
                }
            }
        }
        self.pos = self.buf.len();
        Err(self.out("a closing bracket"))
    }

    /// A member's key (a string value, lone surrogates kept), and its ':'.
    fn member_key_text(&mut self) -> Step<Value> {
        if self.peek("a key (a string)")? != b'"' {
            return self.bad(self.pos, "a key (a string)");
        }
        let (s, surrogates) = self.string()?;
        self.expect(b':', "':' after a key")?;
        Ok(string_value(s, surrogates))
    }

    /// An object key (at `pos`, a string) as Rust text. A key with lone surrogates cannot be
    /// compared to field names; it is kept lossily (only for matching, never shown as data).
    pub fn key(&mut self) -> Step<String> {
        let (s, _) = self.string()?;
        Ok(String::from_utf8_lossy(&s).into_owned())
    }
}

/// The first byte at or after `p` that is not plain string content (a quote, a backslash, a
/// control character or a non-ASCII byte), found eight bytes at a time; the bytes left at the
/// end of the window are for the caller to look at one by one.
#[inline]
fn plain_string_bytes(buf: &[u8], mut p: usize) -> usize {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    // High bit of each byte of `w` below `n` (exact for the lowest such byte; a borrow may
    // mark bytes above it, which are never looked at).
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    while let Some(w) = buf.get(p..p + 8) {
        let Ok(w) = <[u8; 8]>::try_from(w) else {
            break;
        };
        let w = u64::from_le_bytes(w);
        let special =
            below(w ^ (ONES * 0x22), 1) | below(w ^ (ONES * 0x5c), 1) | below(w, 0x20) | (w & HIGH);
        if special != 0 {
            return p + (special.trailing_zeros() / 8) as usize;
        }
        p += 8;
    }
    p
}

/// The end of the number at `p` in its common form, `-?(0|[1-9][0-9]*)(\.[0-9]+)?` followed by
/// a byte that cannot continue it, or None for anything else (an exponent, a malformed number,
/// the end of the window): the general grammar check then decides. The hot loop of the scan,
/// as polygons are most of a COCO file.
#[inline]
pub fn plain_number_end(buf: &[u8], p: usize) -> Option<usize> {
    if let Some(end) = buf.get(p..p + 8).and_then(short_plain_number) {
        return Some(p + end);
    }
    plain_number_end_bytewise(buf, p)
}

/// Powers of ten as integers, for joining digit runs.
const POW10_INT: [u64; 17] = [
    1,
    10,
    100,
    1_000,
    10_000,
    100_000,
    1_000_000,
    10_000_000,
    100_000_000,
    1_000_000_000,
    10_000_000_000,
    100_000_000_000,
    1_000_000_000_000,
    10_000_000_000_000,
    100_000_000_000_000,
    1_000_000_000_000_000,
    10_000_000_000_000_000,
];

/// A number in the common form `-?(0|[1-9][0-9]*)(\.[0-9]+)?` with at most 16 digits on each
/// side of the point and 19 in all, read by [`plain_decimal`]: its digits as one integer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PlainDecimal {
    /// Just past the number (`buf[end]` exists and cannot continue it).
    pub end: usize,
    pub negative: bool,
    /// Every digit, the point ignored: `123.45` gives 12345.
    pub digits: u64,
    /// Digits after the point (0 without one).
    pub places: usize,
    pub point: bool,
}

impl PlainDecimal {
    /// The value as Python's json reads it where that needs no full parse: an integer, or a
    /// float whose digits are below 2^53 with at most 22 places. Then `digits / 10^places`
    /// divides two exact doubles, and one IEEE division is correctly rounded: the very double
    /// a correctly rounded parse gives (Clinger's fast path).
    #[inline]
    pub fn number(&self) -> Option<Number> {
        if !self.point {
            // At most 16 digits: within i64. "-0" is the integer 0, as in Python.
            let v = self.digits as i64;
            return Some(Number::Int(if self.negative { -v } else { v }));
        }
        if self.digits >= 1 << 53 {
            return None;
        }
        let v = self.digits as f64 / POW10[self.places];
        Some(Number::Float(if self.negative { -v } else { v }))
    }
}

/// The ASCII digits at the start of the 8 bytes `w` (little endian, first byte first): how
/// many, and their value. Eight digits are combined in three multiplications (pairs, fours,
/// eights) instead of a chain of eight multiply-adds.
#[inline]
fn word_digits(w: u64) -> (usize, u64) {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // High bit of each byte set where the byte is not an ASCII digit (see short_plain_number).
    let low = w & !HIGH;
    let at_least_colon = (low + 0x4646_4646_4646_4646) & HIGH;
    let at_least_zero = (low + 0x5050_5050_5050_5050) & HIGH;
    let non_digit = (w & HIGH) | at_least_colon | (!at_least_zero & HIGH);
    let n = (non_digit.trailing_zeros() / 8) as usize;
    if n == 0 {
        return (0, 0);
    }
    // Digit values, moved up so that the n digits fill the top bytes and the bytes below read
    // as leading zeros; the bytes from the first non-digit on (a borrow of the subtraction
    // included) are shifted out.
    let d = w.wrapping_sub(ZEROS) << (8 * (8 - n));
    let d = (d.wrapping_mul(10 << 8).wrapping_add(d) >> 8) & 0x00FF_00FF_00FF_00FF;
    let d = (d.wrapping_mul(100 << 16).wrapping_add(d) >> 16) & 0x0000_FFFF_0000_FFFF;
    let d = d.wrapping_mul(10_000 << 32).wrapping_add(d) >> 32;
    (n, d)
}

/// The run of 1 to 16 digits at `p` (length, value), or None (no digit, more than 16, or
/// fewer than 8 or 16 bytes left in the window to read them a word at a time).
#[inline]
fn digit_run(buf: &[u8], p: usize) -> Option<(usize, u64)> {
    let word = |at: usize| -> Option<u64> {
        let w: [u8; 8] = buf.get(at..at + 8)?.try_into().ok()?;
        Some(u64::from_le_bytes(w))
    };
    let (n, v) = word_digits(word(p)?);
    if n < 8 {
        return (n > 0).then_some((n, v));
    }
    let (m, low) = word_digits(word(p + 8)?);
    (m < 8).then(|| (8 + m, v * POW10_INT[m] + low))
}

/// The number at `p` if it has the common form of [`PlainDecimal`] and a byte after it that
/// cannot continue it; None for anything else (an exponent, a leading zero, a malformed or
/// very long number, the end of the window), which the grammar walk then decides. Reads the
/// digits word at a time: numbers of a record (ids, areas, boxes) are a fifth of the scan.
#[inline]
pub fn plain_decimal(buf: &[u8], p: usize) -> Option<PlainDecimal> {
    let negative = *buf.get(p)? == b'-';
    let int_start = p + usize::from(negative);
    let (int_len, int_digits) = digit_run(buf, int_start)?;
    if int_len > 1 && buf[int_start] == b'0' {
        return None;
    }
    let mut d = PlainDecimal {
        end: int_start + int_len,
        negative,
        digits: int_digits,
        places: 0,
        point: false,
    };
    if *buf.get(d.end)? == b'.' {
        let (frac_len, frac_digits) = digit_run(buf, d.end + 1)?;
        if int_len + frac_len > 19 {
            return None;
        }
        // Below 10^19 < 2^64: no overflow.
        d.digits = int_digits * POW10_INT[frac_len] + frac_digits;
        d.places = frac_len;
        d.point = true;
        d.end += 1 + frac_len;
    }
    match *buf.get(d.end)? {
        b'e' | b'E' | b'.' => None,
        _ => Some(d),
    }
}

/// [`plain_number_end`] for a non-negative number that ends inside the 8 bytes `w`, found with
/// word arithmetic instead of a loop over bytes: the first non-digit ends the integer part; if
/// it is a '.', the next non-digit ends the fraction. Leading zeros, empty parts, an exponent
/// or a '.' after the fraction give None (the bytewise check then decides).
#[inline]
fn short_plain_number(w: &[u8]) -> Option<usize> {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let word = u64::from_le_bytes(w.try_into().ok()?);
    // High bit of each byte set where the byte is not an ASCII digit (no carries: each byte's
    // low seven bits plus 0x46 or 0x50 stays below 0x100).
    let low = word & !HIGH;
    let at_least_colon = (low + 0x4646_4646_4646_4646) & HIGH;
    let at_least_zero = (low + 0x5050_5050_5050_5050) & HIGH;
    let non_digit = (word & HIGH) | at_least_colon | (!at_least_zero & HIGH);
    let int_end = (non_digit.trailing_zeros() / 8) as usize;
    if int_end == 0 || int_end >= 8 || (int_end > 1 && w[0] == b'0') {
        return None;
    }
    let end = if w[int_end] == b'.' {
        if int_end >= 6 {
            return None;
        }
        let after = non_digit & (!0u64 << (8 * (int_end + 1)));
        let frac_end = (after.trailing_zeros() / 8) as usize;
        if frac_end == int_end + 1 || frac_end >= 8 {
            return None;
        }
        frac_end
    } else {
        int_end
    };
    match w[end] {
        b'e' | b'E' | b'.' => None,
        _ => Some(end),
    }
}

/// Bit masks (bit i: byte i) of the classes of bytes a run of plain numbers is made of.
#[derive(Default)]
struct NumberBytes {
    digit: u64,
    zero: u64,
    dot: u64,
    comma: u64,
    minus: u64,
}

impl NumberBytes {
    /// Classifies up to 64 bytes (a missing byte is in no class), sixteen at a time with SIMD
    /// compares and byte masks (`wide` picks SSE2, NEON or scalar code): a few nanoseconds a
    /// block, where word arithmetic packing bits by multiplication took about forty.
    fn of(bytes: &[u8]) -> NumberBytes {
        let mut padded = [0u8; 64];
        let block: &[u8] = match bytes.get(..64) {
            Some(b) => b,
            None => {
                padded[..bytes.len()].copy_from_slice(bytes);
                &padded
            }
        };
        let (zero, dot, comma, minus, nine) = (
            u8x16::splat(b'0'),
            u8x16::splat(b'.'),
            u8x16::splat(b','),
            u8x16::splat(b'-'),
            u8x16::splat(9),
        );
        let mut c = NumberBytes::default();
        for (i, lane) in block.chunks_exact(16).enumerate() {
            let mut arr = [0u8; 16];
            arr.copy_from_slice(lane);
            let v = u8x16::new(arr);
            let shift = 16 * i;
            let bits = |m: u8x16| u64::from(m.to_bitmask()) << shift;
            // A digit is a byte whose difference from '0' (wrapping) is at most 9.
            let d = v - zero;
            c.digit |= bits(d.min(nine).simd_eq(d));
            c.zero |= bits(v.simd_eq(zero));
            c.dot |= bits(v.simd_eq(dot));
            c.comma |= bits(v.simd_eq(comma));
            c.minus |= bits(v.simd_eq(minus));
        }
        c
    }
}

/// The end of a run of plain numbers (as [`plain_number_end`] accepts them) separated by bare
/// commas, starting at `start`: the run is checked up to 64 bytes at a time with bit masks
/// rather than number by number, which puts a chain of dependent loads and scans on every
/// number. Returns the end of the last number of the block that certainly ends there
/// (`buf[end]` is then the next ',' or the byte after the run), or None where the block
/// holds no such number or breaks a rule; the number-by-number loop then decides.
fn plain_number_run(buf: &[u8], start: usize) -> Option<usize> {
    let bytes = buf.get(start..)?;
    let n = bytes.len().min(64);
    let c = NumberBytes::of(bytes);
    let known = if n == 64 { !0u64 } else { (1u64 << n) - 1 };
    let in_run = c.digit | c.dot | c.comma | c.minus;
    let other = !in_run & known;
    // Where the checked part ends: before the first byte of another kind if there is one and
    // it ends the number before it (an exponent continues it), else before the last comma.
    let cut_at_comma = |limit: u64| {
        let commas = c.comma & limit;
        (commas != 0).then(|| 63 - commas.leading_zeros() as usize)
    };
    let len = if other != 0 {
        let e = other.trailing_zeros() as usize;
        match bytes[e] {
            b'e' | b'E' => cut_at_comma((1u64 << e) - 1)?,
            _ => e,
        }
    } else {
        // Every known byte is part of the run: the last number may go on past the block.
        cut_at_comma(known)?
    };
    if len == 0 {
        return None;
    }
    // len < 64 here: a block of 64 run bytes is cut at a comma.
    let live = (1u64 << len) - 1;
    let (digit, zero, dot, comma, minus) = (
        c.digit & live,
        c.zero & live,
        c.dot & live,
        c.comma & live,
        c.minus & live,
    );
    let starts = (1 | (comma << 1)) & live;
    let first_digit = (starts & !minus) | (minus << 1);
    let bad = (minus & !starts) // '-' only where a number starts
        | (comma & !(digit << 1)) // a number before each ','
        | (first_digit & !digit) // an integer part
        | (((first_digit & zero) << 1) & digit) // no leading zero
        | (dot & !(digit << 1)) // a digit before each '.'
        | (dot & !(digit >> 1)) // and after it
        | (digit.wrapping_add(dot << 1) & !digit & dot); // one '.' per number
    (bad == 0 && (digit >> (len - 1)) & 1 == 1).then_some(start + len)
}

/// [`plain_number_end`] one byte at a time.
fn plain_number_end_bytewise(buf: &[u8], mut p: usize) -> Option<usize> {
    if *buf.get(p)? == b'-' {
        p += 1;
    }
    match *buf.get(p)? {
        b'0' => p += 1,
        b'1'..=b'9' => {
            p += 1;
            while buf.get(p)?.is_ascii_digit() {
                p += 1;
            }
        }
        _ => return None,
    }
    if *buf.get(p)? == b'.' {
        p += 1;
        if !buf.get(p)?.is_ascii_digit() {
            return None;
        }
        p += 1;
        while buf.get(p)?.is_ascii_digit() {
            p += 1;
        }
    }
    match *buf.get(p)? {
        b'e' | b'E' | b'0'..=b'9' | b'.' => None,
        _ => Some(p),
    }
}

/// The value of a number literal already checked by `number_span`, for the common short forms:
/// an integer of at most 18 digits, or `-?digits.digits` (no exponent) whose digits read as one
/// integer `m < 2^53` with at most 22 of them after the point. The float is then `m / 10^k`
/// with both operands exact doubles (10^22 is the largest exact power of ten), and one IEEE
/// division is correctly rounded: the same double as a full correctly rounded parse
/// (Clinger's fast path). Anything else gives None and goes through the full parser.
/// Powers of ten that f64 holds exactly.
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The digits of an unsigned decimal of at most 19 bytes (`123.45`) as one integer, with the
/// number of digits after its point and whether it has one; None for anything else (a sign,
/// an exponent, a second point, more bytes).
pub fn decimal_digits(text: &[u8]) -> Option<(u64, u32, bool)> {
    if text.len() > 19 {
        return None;
    }
    let (mut m, mut after_point, mut seen_point) = (0u64, 0u32, false);
    for &b in text {
        match b {
            b'0'..=b'9' => {
                m = m * 10 + u64::from(b - b'0');
                after_point += u32::from(seen_point);
            }
            b'.' if !seen_point => seen_point = true,
            _ => return None,
        }
    }
    Some((m, after_point, seen_point))
}

fn short_number(text: &[u8]) -> Option<Number> {
    let (negative, digits) = match text.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, text),
    };
    let (m, after_point, seen_point) = decimal_digits(digits)?;
    if !seen_point {
        if digits.len() > 18 {
            return None;
        }
        let v = m as i64;
        return Some(Number::Int(if negative { -v } else { v }));
    }
    if m >= 1 << 53 || after_point > 22 {
        return None;
    }
    let v = m as f64 / POW10[after_point as usize];
    Some(Number::Float(if negative { -v } else { v }))
}

fn string_value(s: Cow<'_, [u8]>, surrogates: bool) -> Value {
    if surrogates {
        return Value::StrSurrogates(s.into_owned());
    }
    match String::from_utf8(s.into_owned()) {
        Ok(text) => Value::Str(text),
        // Validated by skip_string; unreachable in practice.
        Err(e) => Value::StrSurrogates(e.into_bytes()),
    }
}

/// Parses one complete value at the start of `bytes` (trailing bytes are ignored: record
/// windows end at the next record). Positions in errors are relative to `bytes`.
pub fn parse_value(bytes: &[u8]) -> Step<Value> {
    let mut lx = Lexer::new(bytes, 0, true);
    lx.value(0)
}

/// The values of members `keys` of the object at the start of `bytes` (None where absent; the
/// last of a repeated key, as in Python), every other member skipped without being built.
pub fn parse_members(bytes: &[u8], keys: &[&str]) -> Step<Vec<Option<Value>>> {
    walk_members(bytes, keys, |lx| lx.value(1), |lx| lx.skip_value(1))
}

/// The members `keys` of an object, every other member skipped by bracket counting (the
/// record was validated by the index scan). Lists of numbers and lists of number lists are
/// read straight into f64s (see [`Lexer::numeric_array`]); other values as [`Value`]s. A
/// repeated key keeps the last value, as in Python.
pub fn parse_numeric_members(bytes: &[u8], keys: &[&str]) -> Step<Vec<Option<Member>>> {
    walk_members(bytes, keys, numeric_member, Lexer::skip_validated)
}

/// A non-empty list of numbers at the lexer (after whitespace), appended to `out` as
/// [`numeric_member`] would read it (`Numeric::Numbers`): true if so; false, with the lexer
/// and `out` as they were, for any other value (read it with [`numeric_member`]).
pub fn numbers_into(lx: &mut Lexer<'_>, out: &mut Vec<f64>) -> Step<bool> {
    let (start, len) = (lx.pos, out.len());
    let got = match lx.peek("a value")? {
        b'[' => {
            lx.pos += 1;
            lx.numbers_rest_into(out)
        }
        _ => Ok(false),
    };
    match got {
        Ok(true) => Ok(true),
        Err(Stop::More) => Err(Stop::More),
        _ => {
            lx.pos = start;
            out.truncate(len);
            Ok(false)
        }
    }
}

/// The value at the lexer's position as [`parse_numeric_members`] reads a member's value:
/// number lists straight into f64s, anything else as a [`Value`].
pub fn numeric_member(lx: &mut Lexer<'_>) -> Step<Member> {
    let numeric = if lx.peek("a value")? == b'[' {
        lx.numeric_array()?
    } else {
        None
    };
    Ok(match numeric {
        Some(n) => Member::Numeric(n),
        None => Member::Value(lx.value(1)?),
    })
}

/// Walks the members of the object at the start of `bytes`: `read` takes the value of each
/// member named in `keys`, `skip` steps over the others.
fn walk_members<'a, T: Clone>(
    bytes: &'a [u8],
    keys: &[&str],
    read: impl Fn(&mut Lexer<'a>) -> Step<T>,
    skip: impl Fn(&mut Lexer<'a>) -> Step<()>,
) -> Step<Vec<Option<T>>> {
    let mut lx = Lexer::new(bytes, 0, true);
    let mut out = vec![None; keys.len()];
    lx.expect(b'{', "an object")?;
    if lx.peek("a key or '}'")? == b'}' {
        return Ok(out);
    }
    loop {
        if lx.peek("a key (a string)")? != b'"' {
            return lx.bad(lx.pos, "a key (a string)");
        }
        // Compared as decoded bytes, with no String per key: a key with a lone surrogate
        // (kept as its WTF-8 bytes) matches no wanted name, as its lossy text would not.
        let (key, _) = lx.string()?;
        lx.expect(b':', "':' after a key")?;
        match keys.iter().position(|k| k.as_bytes() == &*key) {
            Some(i) => out[i] = Some(read(&mut lx)?),
            None => skip(&mut lx)?,
        }
        match lx.peek("',' or '}'")? {
            b',' => lx.pos += 1,
            b'}' => return Ok(out),
            _ => return lx.bad(lx.pos, "',' or '}'"),
        }
    }
}

/// A list read by [`Lexer::numeric_array`].
#[derive(Debug, Clone, PartialEq)]
pub enum Numeric {
    /// A non-empty list of numbers.
    Numbers(Vec<f64>),
    /// A non-empty list of non-empty number lists.
    Polygons(Vec<Vec<f64>>),
}

/// A member as [`parse_numeric_members`] reads it.
#[derive(Debug, Clone, PartialEq)]
pub enum Member {
    Numeric(Numeric),
    /// Anything else (an RLE dict, an empty list, a number, a malformed value).
    Value(Value),
}

/// Parses a whole document: one value, then only whitespace.
pub fn parse_document(bytes: &[u8]) -> Step<Value> {
    let mut lx = Lexer::new(bytes, 0, true);
    let v = lx.value(0)?;
    if !lx.at_end()? {
        return Err(Stop::Bad {
            pos: lx.pos,
            expected: "the end of the document (extra data after the top-level value)",
        });
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(s: &str) -> Step<Value> {
        parse_document(s.as_bytes())
    }

    #[test]
    fn numbers_keep_python_types() {
        assert_eq!(doc("1"), Ok(Value::Int(1)));
        assert_eq!(doc("-0"), Ok(Value::Int(0)));
        assert_eq!(doc("1.0"), Ok(Value::Float(1.0)));
        assert_eq!(doc("1e2"), Ok(Value::Float(100.0)));
        assert_eq!(doc("1E-3"), Ok(Value::Float(0.001)));
        assert!(matches!(doc("-0.0"), Ok(Value::Float(f)) if f == 0.0 && f.is_sign_negative()));
        assert_eq!(
            doc("123456789012345678901234567890"),
            Ok(Value::BigInt("123456789012345678901234567890".into()))
        );
        assert!(matches!(doc("NaN"), Ok(Value::Float(f)) if f.is_nan()));
        assert_eq!(doc("-Infinity"), Ok(Value::Float(f64::NEG_INFINITY)));
        assert_eq!(doc("1e400"), Ok(Value::Float(f64::INFINITY)));
        // Correct rounding: the two neighbours of a halfway case.
        assert_eq!(doc("0.1"), Ok(Value::Float(0.1)));
        assert_eq!(
            doc("9007199254740993.0"),
            Ok(Value::Float(9007199254740992.0))
        );
    }

    #[test]
    fn rejects_what_python_rejects() {
        for bad in [
            "01",
            "1.",
            ".5",
            "+1",
            "1e",
            "-",
            "[1,]",
            "{\"a\":1,}",
            "tru",
            "\"\t\"",
            "\"\\x\"",
            "[1 2]",
            "{1:2}",
            "\"\\u12g4\"",
            "nan",
            "[",
            "",
            " ",
        ] {
            assert!(doc(bad).is_err(), "{bad:?} should be rejected");
        }
        assert!(parse_document(b"\"\xff\"").is_err());
        let deep = "[".repeat(MAX_DEPTH + 1) + &"]".repeat(MAX_DEPTH + 1);
        assert!(doc(&deep).is_err());
        let ok = "[".repeat(500) + &"]".repeat(500);
        assert!(doc(&ok).is_ok());
    }

    #[test]
    fn plain_string_bytes_stop_at_the_first_special_byte() {
        let mut rng = crate::test_rng::Rng::new(0x57a1_0b17);
        let special = |b: u8| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b);
        for _ in 0..20_000 {
            let len = rng.below(40) as usize;
            let buf: Vec<u8> = (0..len)
                .map(|_| match rng.below(12) {
                    0 => [
                        b'"', b'\\', 0x1f, 0x00, 0x80, 0xff, 0x7f, b'!', b'#', 0x20, b'[', b']',
                    ][rng.below(12) as usize],
                    _ => b'a' + rng.below(26) as u8,
                })
                .collect();
            for start in 0..=len {
                let got = plain_string_bytes(&buf, start);
                let first = (start..len).find(|&i| special(buf[i])).unwrap_or(len);
                // Exact when a special byte is found; otherwise it stops within the last
                // eight bytes, leaving them to the byte-by-byte loop.
                if first < len {
                    assert!(
                        got == first || (got < first && len - got < 8),
                        "{buf:?} {start}"
                    );
                } else {
                    assert!(got <= len && len - got < 8, "{buf:?} {start}");
                }
                assert!(got >= start && (start..got).all(|i| !special(buf[i])));
            }
        }
    }

    #[test]
    fn plain_decimals_equal_the_grammar_walk_and_the_full_parse() {
        // Generated number texts around every boundary of the word-at-a-time reader (7, 8, 9,
        // 15, 16, 17 digits a side, 19 in all, 2^53), with signs, leading zeros, exponents and
        // stray bytes, then a terminator, more digits or the end of the window: whatever
        // `plain_decimal` accepts ends where the grammar walk ends, reads as the full parse
        // reads it (int or float, bit for bit) and codes as `decimal_code` codes its text; and
        // `Lexer::number` gives the full parse's number for every text either way.
        let mut rng = crate::test_rng::Rng::new(0x706c_6169_6e5f_6463);
        let digits = |rng: &mut crate::test_rng::Rng, n: u64| -> String {
            (0..n)
                .map(|_| char::from(b'0' + rng.below(10) as u8))
                .collect()
        };
        let lengths = [1, 1, 2, 3, 4, 7, 8, 9, 15, 16, 17, 18, 20];
        let mut accepted = 0;
        for case in 0..60_000 {
            let mut text = String::new();
            if rng.below(4) == 0 {
                text.push('-');
            }
            let int_len = lengths[rng.below(lengths.len() as u64) as usize];
            let mut int = digits(&mut rng, int_len);
            if rng.below(3) != 0 && int.starts_with('0') && int_len > 1 {
                int.replace_range(..1, "1"); // mostly no leading zero
            }
            text.push_str(&int);
            match rng.below(6) {
                0 | 1 => {}
                2 => text.push_str(&format!("e{}", rng.below(30))),
                _ => {
                    text.push('.');
                    let frac_len = lengths[rng.below(lengths.len() as u64) as usize];
                    text.push_str(&digits(&mut rng, frac_len));
                    if rng.below(8) == 0 {
                        text.push_str(["e-3", "E5", ".1", "."][rng.below(4) as usize]);
                    }
                }
            }
            if case % 1000 == 0 {
                text = [
                    "9007199254740993.0",
                    "9007199254740992.5",
                    "0.1",
                    "-0.0",
                    "-0",
                ][(case / 1000) % 5]
                    .to_string();
            }
            let number_len = text.len();
            // What follows: a separator (often far enough for word reads), or the window end.
            let tail = ["", ",", "]", ", 1, 2, 3, 4, 5", "}, {\"a\": 1}", " ,", "x"];
            text.push_str(tail[rng.below(tail.len() as u64) as usize]);
            let buf = text.as_bytes();
            let literal = &text[..number_len];
            let full: Option<Number> = if literal.contains(['.', 'e', 'E']) {
                literal.parse::<f64>().ok().map(Number::Float)
            } else {
                literal.parse::<i64>().ok().map(Number::Int)
            };
            let grammar_end = Lexer::new(buf, 0, true).number_span().map(|(end, _)| end);
            if let Some(d) = plain_decimal(buf, 0) {
                accepted += 1;
                assert_eq!(Ok(d.end), grammar_end, "{text}");
                assert_eq!(d.end, number_len, "{text}");
                if let Some(n) = d.number() {
                    assert_eq!(Some(n), full, "{text}");
                }
                assert_eq!(
                    crate::index::columns::plain_decimal_code(&d),
                    crate::index::columns::decimal_code(literal.as_bytes()),
                    "{text}"
                );
            }
            let mut lx = Lexer::new(buf, 0, true);
            let got = lx.number();
            if grammar_end != Ok(number_len) {
                // Not one JSON number (a leading zero, "1.", an exponent then "."): it ends
                // early, for the caller to reject what follows, or fails.
                assert!(got.is_err() || lx.pos < number_len, "{text}");
                continue;
            }
            match (got, full) {
                (Ok(Number::BigInt { .. }), None) => assert!(!literal.contains('.'), "{text}"),
                (Ok(Number::Float(a)), Some(Number::Float(b))) => {
                    assert_eq!(a.to_bits(), b.to_bits(), "{text}")
                }
                (got, want) => match (got, want) {
                    (Ok(a), Some(b)) => assert_eq!(a, b, "{text}"),
                    (Err(_), _) => assert!(grammar_end.is_err(), "{text}"),
                    (a, b) => unreachable!("{text}: {a:?} against {b:?}"),
                },
            }
        }
        // The fast reader took a good share of the cases (not all fall back).
        assert!(accepted > 5_000, "{accepted}");
    }

    #[test]
    fn short_numbers_equal_the_full_parse() {
        let mut rng = crate::test_rng::Rng::new(0x9e37_79b9_7f4a_7c15_u64);
        let mut next = |m: u64| rng.below(m);
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1.5",
            "0.1",
            "0.3",
            "123.45",
            "9007199254740991.0",
            "9007199254740992.0",
            "0.0000000000000000000001",
            "1.00000000000000000000001",
            "999999999999999999",
            "-999999999999999999",
            "1000000000000000000",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..100_000 {
            let int_digits = 1 + next(17) as u32;
            let int = next(10u64.pow(int_digits));
            let frac_digits = next(24) as usize;
            let frac_bound = 10u64.pow(frac_digits.min(18) as u32);
            let frac = next(frac_bound);
            let sign = if next(3) == 0 { "-" } else { "" };
            texts.push(if frac_digits == 0 {
                format!("{sign}{int}")
            } else {
                format!("{sign}{int}.{frac:0frac_digits$}")
            });
        }
        for t in &texts {
            let want = if t.contains('.') {
                t.parse::<f64>().map(|f| f.to_bits()).ok()
            } else {
                t.parse::<i64>().map(|i| i as u64).ok()
            };
            let got = match short_number(t.as_bytes()) {
                Some(Number::Float(f)) => Some(f.to_bits()),
                Some(Number::Int(i)) => Some(i as u64),
                _ => continue, // left to the full parser
            };
            assert_eq!(got, want, "{t}");
        }
    }

    #[test]
    fn plain_f64_equals_the_general_number() {
        // (':' and '/' border the digits.)
        let alphabet = b"0123456789.-eE,]:/";
        let mut rng = crate::test_rng::Rng::new(0x51_7cc1_b727_220a_u64);
        let mut next = |m: u64| rng.below(m);
        let mut texts: Vec<Vec<u8>> = [
            "-0,", "-0.0]", "0.5", "01,", "1.,", "12.25e1]", "-", "400.24,",
        ]
        .iter()
        .map(|t| t.as_bytes().to_vec())
        .collect();
        for case in 0..300_000 {
            let len = 1 + next(24) as usize;
            // Mostly digits, so that long plain numbers come up; every other text with
            // shorter runs, and each again followed by more numbers.
            let digit_odds = if case % 2 == 0 { 4 } else { 2 };
            let text = (0..len)
                .map(|i| {
                    if i > 0 && next(digit_odds) > 0 {
                        b'0' + next(10) as u8
                    } else {
                        alphabet[next(alphabet.len() as u64) as usize]
                    }
                })
                .collect();
            texts.push(text);
        }
        let padded: Vec<Vec<u8>> = texts
            .iter()
            .map(|t| [t.as_slice(), b",1234567]"].concat())
            .collect();
        texts.extend(padded);
        let mut taken = 0;
        for t in &texts {
            let mut fast = Lexer::new(t, 0, true);
            let Some(x) = fast.plain_f64() else {
                assert_eq!(fast.pos, 0);
                continue;
            };
            taken += 1;
            let mut slow = Lexer::new(t, 0, true);
            let want = match slow.number() {
                Ok(Number::Int(i)) => i as f64,
                Ok(Number::Float(f)) => f,
                other => unreachable!(
                    "{:?}: fast {x}, general {other:?}",
                    String::from_utf8_lossy(t)
                ),
            };
            assert_eq!(
                x.to_bits(),
                want.to_bits(),
                "{:?}",
                String::from_utf8_lossy(t)
            );
            assert_eq!(fast.pos, slow.pos, "{:?}", String::from_utf8_lossy(t));
        }
        assert!(taken > 10_000, "{taken}");
    }

    #[test]
    fn word_number_end_equals_bytewise() {
        let alphabet = b"0123456789.-eE, ]}x\xc3";
        let mut rng = crate::test_rng::Rng::new(0x2545_f491_4f6c_dd1d_u64);
        let mut next = |m: u64| rng.below(m);
        for _ in 0..300_000 {
            let len = 1 + next(11) as usize;
            let mut buf = Vec::with_capacity(len);
            for _ in 0..len {
                // Mostly digits, so that long valid numbers are common.
                let b = if next(3) > 0 {
                    b'0' + next(10) as u8
                } else {
                    alphabet[next(alphabet.len() as u64) as usize]
                };
                buf.push(b);
            }
            assert_eq!(
                plain_number_end(&buf, 0),
                plain_number_end_bytewise(&buf, 0),
                "{:?}",
                String::from_utf8_lossy(&buf)
            );
        }
    }

    #[test]
    fn number_runs_end_where_the_number_by_number_walk_does() {
        // The block check may stop early (None, or an earlier end), but every end it gives
        // must be one the number-by-number walk reaches, through bare commas.
        let alphabet = b"0123456789.-eE, ]}x";
        let mut rng = crate::test_rng::Rng::new(0x9e37_79b9_7f4a_7c15_u64);
        let mut progressed = 0;
        for case in 0..60_000 {
            let len = 1 + rng.below(90) as usize;
            let mut buf = Vec::with_capacity(len);
            let noisy = case % 3 == 0;
            while buf.len() < len {
                if noisy && rng.below(12) == 0 {
                    buf.push(alphabet[rng.below(alphabet.len() as u64) as usize]);
                    continue;
                }
                // A well-formed number (sometimes with a leading zero) and a comma.
                if rng.below(3) == 0 {
                    buf.push(b'-');
                }
                let digits = 1 + rng.below(5);
                for i in 0..digits {
                    let lo = u64::from(i == 0 && rng.below(8) != 0);
                    buf.push(b'0' + (lo + rng.below(10 - lo)) as u8);
                }
                if rng.below(2) == 0 {
                    buf.push(b'.');
                    for _ in 0..1 + rng.below(3) {
                        buf.push(b'0' + rng.below(10) as u8);
                    }
                }
                buf.push(if rng.below(10) == 0 { b']' } else { b',' });
            }
            buf.truncate(len);
            let mut ends = Vec::new();
            let mut p = 0;
            while let Some(end) = plain_number_end(&buf, p) {
                ends.push(end);
                if buf.get(end) != Some(&b',') {
                    break;
                }
                p = end + 1;
            }
            let text = String::from_utf8_lossy(&buf);
            if let Some(end) = plain_number_run(&buf, 0) {
                assert!(ends.contains(&end), "{text:?}: {end} not in {ends:?}");
                progressed += 1;
            }
        }
        // The fast path must actually take most well-formed runs.
        assert!(progressed > 25_000, "{progressed}");
    }

    #[test]
    fn strings_and_escapes() {
        assert_eq!(
            doc(r#""a\"b\\c\/d\n\u00e9\ud83d\ude00""#),
            Ok(Value::Str("a\"b\\c/d\né😀".into()))
        );
        assert_eq!(
            doc(r#""\ud800x""#),
            Ok(Value::StrSurrogates(vec![0xED, 0xA0, 0x80, b'x']))
        );
        assert_eq!(
            doc(r#"{"a":1,"a":2}"#).map(|v| v.get("a").cloned()),
            Ok(Some(Value::Int(2)))
        );
    }

    #[test]
    fn window_end_asks_for_more() {
        for cut in ["[1,2", "{\"ab", "12", "1.5e", "tr", "\"\\u12"] {
            let mut lx = Lexer::new(cut.as_bytes(), 0, false);
            assert_eq!(lx.skip_value(0), Err(Stop::More), "{cut}");
        }
        let mut lx = Lexer::new(b"12", 0, true);
        assert_eq!(lx.number(), Ok(Number::Int(12)));
    }

    #[test]
    fn numeric_fast_path_equals_the_value_parse() {
        let cases = [
            (
                r#"{"id": 1, "segmentation": [[1, 2.5, 3e1, -4, 5.25, 6]], "area": 2}"#,
                true,
            ),
            (
                r#"{"segmentation": [[0.1, 0.2, 0.3, 0.4], [1,2,3,4,5,6,7,8]]}"#,
                true,
            ),
            (
                r#"{"segmentation" : [ [ 1 , 2 ,3,4, 5,6 ] ] , "x": [[1]]}"#,
                true,
            ),
            (
                r#"{"segmentation": [[NaN, Infinity, -Infinity, 1, 2, 3]]}"#,
                true,
            ),
            (
                r#"{"segmentation": [[123456789012345678901234567890, 1, 2, 3, 4, 5]]}"#,
                false,
            ),
            (r#"{"segmentation": [[]]}"#, false),
            (r#"{"segmentation": []}"#, false),
            (r#"{"segmentation": [1, 2, 3, 4, 5, 6]}"#, false),
            (r#"{"segmentation": [[1, 2, "a"]]}"#, false),
            (r#"{"segmentation": [[1, 2], [[3]]]}"#, false),
            (
                r#"{"segmentation": {"size": [2, 2], "counts": [0, 4]}}"#,
                false,
            ),
            (
                r#"{"segmentation": [[1, 2]], "segmentation": [[5, 6, 7, 8, 9, 10]]}"#,
                true,
            ),
            (r#"{"bbox": [1, 2, 3, 4]}"#, false),
            // Keypoint lists as COCO writes them: `0,` runs.
            (r#"{"segmentation": [[0,0,0,400,27,2,0,0,0,0,0,0]]}"#, true),
            (r#"{"segmentation": [[0,-0,0.5,0,0e1,0,0]]}"#, true),
            (
                r#"{"segmentation": [[9,10,99,100,999,1000,12.5,1e2,3E1,-5,2,7]]}"#,
                true,
            ),
            (r#"{"segmentation": [[5,6,7]]}"#, true),
            (r#"{"segmentation": [[0,0,0],[0]]}"#, true),
        ];
        for (case, polygons) in cases {
            let fast = parse_numeric_members(case.as_bytes(), &["segmentation"])
                .unwrap()
                .remove(0);
            assert_eq!(
                matches!(fast, Some(Member::Numeric(Numeric::Polygons(_)))),
                polygons,
                "{case}"
            );
            let generic = parse_members(case.as_bytes(), &["segmentation"])
                .unwrap()
                .remove(0);
            match (fast, generic) {
                (None, None) => {}
                (Some(Member::Value(v)), Some(g)) => assert_eq!(v, g, "{case}"),
                (Some(Member::Numeric(Numeric::Numbers(xs))), Some(g)) => {
                    let want: Option<Vec<u64>> = match g {
                        Value::Array(items) => {
                            items.iter().map(|x| x.as_f64().map(f64::to_bits)).collect()
                        }
                        _ => None,
                    };
                    let got: Vec<u64> = xs.iter().map(|x| x.to_bits()).collect();
                    assert_eq!(Some(got), want, "{case}");
                }
                (Some(Member::Numeric(Numeric::Polygons(p))), Some(Value::Array(parts))) => {
                    let want: Vec<Vec<u64>> = parts
                        .iter()
                        .map(|part| match part {
                            Value::Array(xs) if !xs.is_empty() => {
                                xs.iter().map(|x| x.as_f64().unwrap().to_bits()).collect()
                            }
                            other => unreachable!("{case}: fast path took {other:?}"),
                        })
                        .collect();
                    let got: Vec<Vec<u64>> = p
                        .iter()
                        .map(|xs| xs.iter().map(|x| x.to_bits()).collect())
                        .collect();
                    assert_eq!(got, want, "{case}");
                }
                (f, g) => unreachable!("{case}: {f:?} against {g:?}"),
            }
        }
        // Malformed numbers fail as the value parse fails, at the same place.
        for bad in [
            &br#"{"segmentation": [[1, 2.]]}"#[..],
            br#"{"segmentation": [[0,00,1]]}"#,
            br#"{"segmentation": [[0,0,]]}"#,
            br#"{"segmentation": [[12,01,3]]}"#,
            br#"{"segmentation": [[12,3,]]}"#,
        ] {
            assert_eq!(
                parse_numeric_members(bad, &["segmentation"]).err(),
                parse_members(bad, &["segmentation"]).err()
            );
        }
    }

    #[test]
    fn random_number_lists_read_as_the_value_parse_reads_them() {
        // Lists of generated number tokens (keypoint-like runs of 0 and short ints, decimals,
        // exponents, negatives, leading zeros, spaces, a stray token): the number-list reader
        // and its fast paths give the value parse's numbers bit for bit, or fail alike.
        let mut rng = crate::test_rng::Rng::new(0x6b70_5f6c_6973_7473);
        let tokens = [
            "0",
            "0",
            "0",
            "1",
            "2",
            "7",
            "10",
            "42",
            "99",
            "100",
            "400",
            "999",
            "1000",
            "12345",
            "0.5",
            "413.33",
            "-0",
            "-5",
            "-12.25",
            "1e2",
            "3E1",
            "2.5e-3",
            "00",
            "01",
            "1.",
            "-",
            "a",
            "1.0",
            "0.0",
            "18446744073709551616",
            "1e400",
        ];
        for _ in 0..4000 {
            let n = 1 + rng.below(12) as usize;
            let mut text = String::from("{\"k\": [");
            for i in 0..n {
                if i > 0 {
                    text.push_str([",", ",", ",", ", ", " ,"][rng.below(5) as usize]);
                }
                // Mostly valid tokens; the last ones of the list are malformed ones.
                let pick = if rng.below(20) == 0 { tokens.len() } else { 22 };
                text.push_str(tokens[rng.below(pick as u64) as usize]);
            }
            text.push_str("]}");
            let bytes = text.as_bytes();
            let fast = parse_numeric_members(bytes, &["k"]);
            let generic = parse_members(bytes, &["k"]);
            match (fast, generic) {
                (Ok(mut f), Ok(mut g)) => match (f.remove(0), g.remove(0)) {
                    (Some(Member::Numeric(Numeric::Numbers(xs))), Some(Value::Array(items))) => {
                        let want: Vec<Option<u64>> =
                            items.iter().map(|v| v.as_f64().map(f64::to_bits)).collect();
                        let got: Vec<Option<u64>> = xs.iter().map(|x| Some(x.to_bits())).collect();
                        assert_eq!(got, want, "{text}");
                    }
                    (Some(Member::Value(v)), Some(g)) => assert_eq!(v, g, "{text}"),
                    (f, g) => unreachable!("{text}: {f:?} against {g:?}"),
                },
                (Err(f), Err(g)) => assert_eq!(f, g, "{text}"),
                (f, g) => unreachable!("{text}: {f:?} against {g:?}"),
            }
        }
    }

    #[test]
    fn skip_value_checks_every_closer_at_any_depth() {
        // Mixed objects and lists nested past the 64 levels kept in bits (the rest on a
        // stack), up to the depth limit: a valid nest is skipped whole; one closer of the
        // wrong kind at any level, or one level too many, is refused.
        let mut rng = crate::test_rng::Rng::new(0x6465_6570);
        for depth in [
            1usize, 2, 63, 64, 65, 66, 127, 128, 129, 300, 999, 1000, 1001,
        ] {
            let objects: Vec<bool> = (0..depth).map(|_| rng.below(2) == 0).collect();
            let nest = |wrong: Option<usize>| -> String {
                let mut text = String::new();
                for &object in &objects {
                    text.push_str(if object { "{\"k\": [1, " } else { "[2, " });
                }
                text.push_str("3.5");
                for (level, &object) in objects.iter().enumerate().rev() {
                    let object = object != (wrong == Some(level));
                    text.push_str(if object { "]}" } else { "]" });
                }
                text
            };
            // An object level is `{"k": [` and closes with `]}`: two containers.
            let levels = objects
                .iter()
                .map(|&o| if o { 2 } else { 1 })
                .sum::<usize>();
            let valid = nest(None);
            let mut lx = Lexer::new(valid.as_bytes(), 0, true);
            let skipped = lx.skip_value(0);
            if levels <= MAX_DEPTH {
                assert_eq!(skipped, Ok(()), "depth {depth}");
                assert_eq!(lx.pos, valid.len(), "depth {depth}");
            } else {
                assert!(matches!(skipped, Err(Stop::Bad { .. })), "depth {depth}");
            }
            let wrong_level = rng.below(depth as u64) as usize;
            let wrong = nest(Some(wrong_level));
            let mut lx = Lexer::new(wrong.as_bytes(), 0, true);
            assert!(
                matches!(lx.skip_value(0), Err(Stop::Bad { .. })),
                "depth {depth}, wrong closer at {wrong_level}"
            );
        }
        // Random trees that climb past 64 levels and come back down, again and again (the
        // stack of deep levels emptied and refilled): skipped whole; any one closer swapped
        // for the other kind is refused.
        for _ in 0..40 {
            let (mut text, mut closers, mut stack) = (String::new(), Vec::new(), Vec::new());
            let (mut goal, mut climbs) = (70 + rng.below(60) as usize, 0);
            loop {
                // A value: a container while below the goal, else a number.
                while stack.len() < goal {
                    let object = rng.below(2) == 0;
                    text.push_str(if object { "{\"k\": " } else { "[" });
                    stack.push(object);
                }
                text.push('7');
                // Close some levels, then go on with a sibling.
                let down = 1 + rng.below(stack.len() as u64) as usize;
                for _ in 0..down {
                    let Some(object) = stack.pop() else { break };
                    closers.push(text.len());
                    text.push(if object { '}' } else { ']' });
                }
                if stack.is_empty() || climbs == 6 {
                    while let Some(object) = stack.pop() {
                        closers.push(text.len());
                        text.push(if object { '}' } else { ']' });
                    }
                    break;
                }
                climbs += 1;
                text.push_str(if stack.last() == Some(&true) {
                    ", \"j\": "
                } else {
                    ", "
                });
                goal = stack.len() + 1 + rng.below(100) as usize;
            }
            let mut lx = Lexer::new(text.as_bytes(), 0, true);
            assert_eq!(lx.skip_value(0), Ok(()));
            assert_eq!(lx.pos, text.len());
            let at = closers[rng.below(closers.len() as u64) as usize];
            let mut wrong = text.clone().into_bytes();
            wrong[at] = if wrong[at] == b']' { b'}' } else { b']' };
            let mut lx = Lexer::new(&wrong, 0, true);
            assert!(
                matches!(lx.skip_value(0), Err(Stop::Bad { .. })),
                "closer at {at}"
            );
        }
    }

    #[test]
    fn skip_validated_ends_where_skip_value_ends() {
        let cases = [
            r#"[[1, 2, 3], [4.5, -6e2]] , "next""#,
            r#"{"a": [1, {"b": "]}[{"}], "c": {"d": [[]]}}, 1"#,
            r#"["\"]", "\\", [{"x": "[["}]]"#,
            r#"[] ,"#,
            r#"{}"#,
            r#"12.5e3, 4"#,
            r#""str]ing" ]"#,
            r#"[{"a": [1, 2]}, [3, {"b": [4]}]]"#,
        ];
        for case in cases {
            let mut fast = Lexer::new(case.as_bytes(), 0, true);
            let mut full = Lexer::new(case.as_bytes(), 0, true);
            fast.skip_validated().unwrap();
            full.skip_value(1).unwrap();
            assert_eq!(fast.pos, full.pos, "{case}");
        }
        // A record cut short (a file rewritten since the scan) is an error, not a read past
        // the end.
        let mut cut = Lexer::new(br#"[[1, 2], [3"#, 0, true);
        assert!(cut.skip_validated().is_err());
    }
}
