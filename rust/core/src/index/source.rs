//! The indexed file: read in chunks by the scan, then only the byte ranges that someone asks
//! for, with positioned reads (no memory map, so a file truncated behind our back gives an
//! error, never a SIGBUS). A gzip file is decompressed once into an unnamed temporary file,
//! which is what gets indexed and read.

use std::fs::File;
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::error::{Error, Result};

/// An open, indexed file and what it looked like when it was indexed.
#[derive(Debug)]
pub struct Source {
    path: PathBuf,
    file: File,
    len: u64,
    modified: Option<SystemTime>,
    gzip: bool,
}

/// A `Read` over a file by positioned reads, leaving the descriptor's offset alone.
pub struct ReadAt<'a> {
    file: &'a File,
    pos: u64,
}

impl Read for ReadAt<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.file.read_at(buf, self.pos)?;
        self.pos += n as u64;
        Ok(n)
    }
}

impl Source {
    pub fn open(path: &Path) -> Result<Source> {
        let io = |e: std::io::Error| Error::Io {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        let mut file = File::open(path).map_err(io)?;
        let mut magic = [0u8; 2];
        let gzip = file.read_at(&mut magic, 0).map_err(io)? == 2 && magic == [0x1f, 0x8b];
        if gzip {
            // Decompressed once into a file that has no name (it goes when it is closed).
            let mut plain = tempfile::tempfile().map_err(io)?;
            let mut decoder = flate2::read::MultiGzDecoder::new(BufReader::new(&file));
            std::io::copy(&mut decoder, &mut plain).map_err(|e| Error::Io {
                path: path.display().to_string(),
                message: format!("cannot decompress the gzip file: {e}"),
            })?;
            plain.seek(SeekFrom::Start(0)).map_err(io)?;
            file = plain;
        }
        let meta = file.metadata().map_err(io)?;
        Ok(Source {
            path: path.to_owned(),
            file,
            len: meta.len(),
            modified: meta.modified().ok(),
            gzip,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn path_text(&self) -> String {
        self.path.display().to_string()
    }

    pub fn is_gzip(&self) -> bool {
        self.gzip
    }

    pub fn len(&self) -> u64 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The whole file from its start, for the scan.
    pub fn reader(&self) -> ReadAt<'_> {
        ReadAt {
            file: &self.file,
            pos: 0,
        }
    }

    /// Fails if the file is not the one that was indexed (size or modification time changed).
    pub fn check_unchanged(&self) -> Result<()> {
        let meta = self.file.metadata().map_err(|e| Error::Io {
            path: self.path_text(),
            message: e.to_string(),
        })?;
        let what = if meta.len() != self.len {
            format!("its size went from {} to {} bytes", self.len, meta.len())
        } else if meta.modified().ok() != self.modified {
            "it was modified".to_owned()
        } else {
            return Ok(());
        };
        Err(Error::FileChanged {
            path: self.path_text(),
            what,
        })
    }

    /// The bytes `start..end` of the file.
    pub fn read(&self, start: u64, end: u64) -> Result<Vec<u8>> {
        self.check_unchanged()?;
        let len = end.saturating_sub(start) as usize;
        let mut buf = vec![0u8; len];
        self.file
            .read_exact_at(&mut buf, start)
            .map_err(|e| Error::FileChanged {
                path: self.path_text(),
                what: format!("bytes {start}..{end} cannot be read: {e}"),
            })?;
        Ok(buf)
    }

    /// Bytes `start..end` into `buf` (grown as needed, never shrunk, so that a worker reading
    /// batch after batch reuses its pages instead of faulting in fresh zeroed ones).
    pub fn read_into<'b>(&self, start: u64, end: u64, buf: &'b mut Vec<u8>) -> Result<&'b [u8]> {
        self.check_unchanged()?;
        let len = end.saturating_sub(start) as usize;
        if buf.len() < len {
            buf.resize(len, 0);
        }
        let out = &mut buf[..len];
        self.file
            .read_exact_at(out, start)
            .map_err(|e| Error::FileChanged {
                path: self.path_text(),
                what: format!("bytes {start}..{end} cannot be read: {e}"),
            })?;
        Ok(out)
    }

    /// Line and column (1-based, in bytes) of `offset`, for an error message: counted only
    /// when an error is shown.
    pub fn line_col(&self, offset: u64) -> (u64, u64) {
        let (mut line, mut col) = (1u64, 1u64);
        let mut reader = self.reader().take(offset);
        let mut buf = vec![0u8; 1 << 16];
        loop {
            let n = match reader.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            for &b in &buf[..n] {
                if b == b'\n' {
                    line += 1;
                    col = 1;
                } else {
                    col += 1;
                }
            }
        }
        (line, col)
    }
}
