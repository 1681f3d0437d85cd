//! A fast line splitter over any `Read`: big reads, no per-line allocation, lines of any
//! length (a 1 MiB line is just a long line), and the byte offset of every line.

use std::io::{self, Read};

/// Splits a reader into lines (without the `\n`). A last line without `\n` is returned
/// too (by [`LineReader::next_line`]) only when `final_partial` is set: a tailer keeps it
/// for later, a one-shot reader takes it.
pub struct LineReader<R> {
    inner: R,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    eof: bool,
    /// Offset in the stream of `buf[start]`.
    offset: u64,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> LineReader<R> {
    pub fn new(inner: R) -> Self {
        Self::with_offset(inner, 0)
    }

    /// A reader whose first byte is at `offset` in the underlying stream (after a seek).
    pub fn with_offset(inner: R, offset: u64) -> Self {
        LineReader {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            offset,
        }
    }

    /// The stream offset just after the last line returned.
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// Bytes read but not yet returned as a complete line.
    pub fn pending(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// The next complete line. At end of input: `Ok(None)`, unless `final_partial` and a
    /// partial last line remains, which is then returned.
    pub fn next_line(&mut self, final_partial: bool) -> io::Result<Option<&[u8]>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let s = self.start;
                self.start += i + 1;
                self.offset += (i + 1) as u64;
                return Ok(Some(&self.buf[s..s + i]));
            }
            if self.eof {
                if final_partial && self.start < self.end {
                    let s = self.start;
                    self.offset += (self.end - s) as u64;
                    self.start = self.end;
                    return Ok(Some(&self.buf[s..self.end]));
                }
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// Clears the end-of-input mark so that a tailer can read what was appended since.
    pub fn clear_eof(&mut self) {
        self.eof = false;
    }

    fn fill(&mut self) -> io::Result<()> {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            let n = self.buf.len() * 2;
            self.buf.resize(n, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_lines_and_tracks_offsets() {
        let data = b"a\nbb\n\nccc";
        let mut r = LineReader::new(&data[..]);
        assert_eq!(r.next_line(false).unwrap(), Some(&b"a"[..]));
        assert_eq!(r.offset(), 2);
        assert_eq!(r.next_line(false).unwrap(), Some(&b"bb"[..]));
        assert_eq!(r.next_line(false).unwrap(), Some(&b""[..]));
        assert_eq!(r.next_line(false).unwrap(), None);
        assert_eq!(r.pending(), b"ccc");
        assert_eq!(r.offset(), 6);
        assert_eq!(r.next_line(true).unwrap(), Some(&b"ccc"[..]));
        assert_eq!(r.offset(), 9);
    }

    #[test]
    fn long_lines_grow_the_buffer() {
        let mut data = vec![b'x'; 3 * CHUNK];
        data.push(b'\n');
        data.extend_from_slice(b"y\n");
        let mut r = LineReader::new(&data[..]);
        assert_eq!(
            r.next_line(false).unwrap().map(<[u8]>::len),
            Some(3 * CHUNK)
        );
        assert_eq!(r.next_line(false).unwrap(), Some(&b"y"[..]));
    }
}
