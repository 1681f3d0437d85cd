//! A fast line splitter over any `Read`: big reads, no per-line allocation, the byte
//! offset of every line, and bounded memory: a line longer than the limit is skipped (and
//! reported with its length) without being buffered whole, so a 1 GiB line costs no more
//! memory than a short one. Binary runs (journal export fields) can be taken or skipped
//! by length.

use std::io::{self, Read};

/// The default longest line kept: a real SECCOMP record is under 4 KiB even with a 4 KiB
/// exe path.
pub const DEFAULT_MAX_LINE: usize = 64 * 1024;

/// One line, or the length of a line that was longer than the limit (skipped).
#[derive(Debug, PartialEq, Eq)]
pub enum Line<'a> {
    Line(&'a [u8]),
    TooLong(u64),
}

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
    max: usize,
    /// Bytes of an over-long line already discarded.
    skipping: Option<u64>,
}

const CHUNK: usize = 1 << 20;

impl<R: Read> LineReader<R> {
    /// A reader with the default limit ([`DEFAULT_MAX_LINE`]).
    pub fn new(inner: R) -> Self {
        Self::with_max(inner, DEFAULT_MAX_LINE)
    }

    /// A reader that skips lines longer than `max` bytes.
    pub fn with_max(inner: R, max: usize) -> Self {
        Self::with_offset(inner, 0, max)
    }

    /// A reader whose first byte is at `offset` in the underlying stream (after a seek).
    pub fn with_offset(inner: R, offset: u64, max: usize) -> Self {
        LineReader {
            inner,
            buf: vec![0; CHUNK],
            start: 0,
            end: 0,
            eof: false,
            offset,
            max,
            skipping: None,
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
    pub fn next_line(&mut self, final_partial: bool) -> io::Result<Option<Line<'_>>> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf[self.start..self.end]) {
                let s = self.start;
                self.start += i + 1;
                self.offset += (i + 1) as u64;
                if let Some(skipped) = self.skipping.take() {
                    return Ok(Some(Line::TooLong(skipped + i as u64)));
                }
                if i > self.max {
                    return Ok(Some(Line::TooLong(i as u64)));
                }
                return Ok(Some(Line::Line(&self.buf[s..s + i])));
            }
            let pending = self.end - self.start;
            if pending > self.max || (self.skipping.is_some() && pending > 0) {
                // Too long already: drop what is buffered, remember how much.
                *self.skipping.get_or_insert(0) += pending as u64;
                self.offset += pending as u64;
                self.start = 0;
                self.end = 0;
            }
            if self.eof {
                if let Some(skipped) = self.skipping.take() {
                    return Ok(Some(Line::TooLong(skipped)));
                }
                if final_partial && self.start < self.end {
                    let s = self.start;
                    self.offset += (self.end - s) as u64;
                    self.start = self.end;
                    return Ok(Some(Line::Line(&self.buf[s..self.end])));
                }
                return Ok(None);
            }
            self.fill()?;
        }
    }

    /// The next `n` bytes (a binary field of `journalctl -o export`) when `n <= keep`;
    /// else they are skipped and `None` is returned. End of input before `n` bytes is an
    /// error.
    pub fn take(&mut self, n: u64, keep: usize) -> io::Result<Option<&[u8]>> {
        if n <= keep as u64 {
            let n = n as usize;
            while self.end - self.start < n {
                if self.eof {
                    return Err(io::ErrorKind::UnexpectedEof.into());
                }
                if self.buf.len() - self.start < n {
                    self.buf.copy_within(self.start..self.end, 0);
                    self.end -= self.start;
                    self.start = 0;
                    if self.buf.len() < n {
                        self.buf.resize(n, 0);
                    }
                }
                self.fill()?;
            }
            let s = self.start;
            self.start += n;
            self.offset += n as u64;
            return Ok(Some(&self.buf[s..s + n]));
        }
        let mut left = n;
        loop {
            let have = ((self.end - self.start) as u64).min(left);
            self.start += have as usize;
            self.offset += have;
            left -= have;
            if left == 0 {
                return Ok(None);
            }
            if self.eof {
                return Err(io::ErrorKind::UnexpectedEof.into());
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

    fn line(l: Option<Line<'_>>) -> Option<&[u8]> {
        match l {
            Some(Line::Line(b)) => Some(b),
            Some(Line::TooLong(n)) => panic!("too long: {n}"),
            None => None,
        }
    }

    #[test]
    fn splits_lines_and_tracks_offsets() {
        let data = b"a\nbb\n\nccc";
        let mut r = LineReader::new(&data[..]);
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"a"[..]));
        assert_eq!(r.offset(), 2);
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"bb"[..]));
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b""[..]));
        assert_eq!(line(r.next_line(false).unwrap()), None);
        assert_eq!(r.pending(), b"ccc");
        assert_eq!(r.offset(), 6);
        assert_eq!(line(r.next_line(true).unwrap()), Some(&b"ccc"[..]));
        assert_eq!(r.offset(), 9);
    }

    #[test]
    fn lines_up_to_the_limit_are_kept() {
        let mut data = vec![b'x'; 3 * CHUNK];
        data.push(b'\n');
        data.extend_from_slice(b"y\n");
        let mut r = LineReader::with_max(&data[..], 4 * CHUNK);
        assert_eq!(
            line(r.next_line(false).unwrap()).map(<[u8]>::len),
            Some(3 * CHUNK)
        );
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"y"[..]));
    }

    /// A reader that hands out at most `n` bytes a call, to cross every boundary.
    struct Trickle<'a>(&'a [u8], usize);

    impl Read for Trickle<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let k = self.0.len().min(buf.len()).min(self.1);
            buf[..k].copy_from_slice(&self.0[..k]);
            self.0 = &self.0[k..];
            Ok(k)
        }
    }

    #[test]
    fn longer_lines_are_skipped_with_their_length_and_memory_stays_bounded() {
        let mut data = b"before\n".to_vec();
        data.extend(std::iter::repeat_n(b'x', 5 * CHUNK + 3));
        data.extend_from_slice(b"\nafter\nshort\n");
        data.extend(std::iter::repeat_n(b'z', 300));
        for chunk in [7, 4096, 1 << 20] {
            let mut r = LineReader::with_max(Trickle(&data, chunk), 100);
            assert_eq!(line(r.next_line(false).unwrap()), Some(&b"before"[..]));
            assert_eq!(
                r.next_line(false).unwrap(),
                Some(Line::TooLong(5 * CHUNK as u64 + 3))
            );
            assert_eq!(r.buf.len(), CHUNK, "the buffer does not grow");
            assert_eq!(line(r.next_line(false).unwrap()), Some(&b"after"[..]));
            assert_eq!(line(r.next_line(false).unwrap()), Some(&b"short"[..]));
            assert_eq!(r.next_line(true).unwrap(), Some(Line::TooLong(300)));
            assert_eq!(r.next_line(true).unwrap(), None);
            assert_eq!(r.offset(), data.len() as u64);
        }
    }

    #[test]
    fn binary_runs_are_taken_or_skipped() {
        let mut data = b"A\n".to_vec();
        data.extend_from_slice(&5u64.to_le_bytes());
        data.extend_from_slice(b"a\nb\nc\nB\n");
        data.extend_from_slice(&10_000u64.to_le_bytes());
        data.extend(std::iter::repeat_n(b'\n', 10_000));
        data.extend_from_slice(b"\nend\n");
        let mut r = LineReader::with_max(Trickle(&data, 3), 100);
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"A"[..]));
        let n = u64::from_le_bytes(r.take(8, 8).unwrap().unwrap().try_into().unwrap());
        assert_eq!(r.take(n, 100).unwrap(), Some(&b"a\nb\nc"[..]));
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b""[..]));
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"B"[..]));
        let n = u64::from_le_bytes(r.take(8, 8).unwrap().unwrap().try_into().unwrap());
        assert_eq!(r.take(n, 100).unwrap(), None);
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b""[..]));
        assert_eq!(line(r.next_line(false).unwrap()), Some(&b"end"[..]));
        assert!(r.take(5, 10).is_err());
    }
}
