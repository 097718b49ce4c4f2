//! [`Capture`]: a child's output lines kept as bytes in a ring bounded in memory,
//! turned into [`LogLine`]s only when someone asks for them.
//!
//! A chatty child can print millions of lines that nobody ever reads one by one;
//! decoding each into a `String` as it arrives made capture cost 2.5x the price of
//! reading the pipe. So the text of every retained line stays raw, back to back in
//! one byte ring, next to a small record per line, and decoding (lossy UTF-8, the
//! trailing `\r`, the note of a cut) happens on the way out.
//!
//! Invariants:
//! - Lines are numbered (`seq`) in arrival order, both streams together, from 0;
//!   the retained ones are a contiguous run ending at the newest.
//! - Memory stays within the budget: the bytes of the retained texts plus the size of
//!   their records never exceed it for longer than one push, and the oldest lines go
//!   first (counted in `dropped`). A single line longer than the whole budget is kept
//!   alone (it is cut at the line limit before it gets here).
//! - A record's `start` is an absolute position in the stream of retained bytes, so
//!   dropping from the front never rewrites the other records.

use std::collections::VecDeque;
use std::time::SystemTime;

use std::fmt;

/// Which output stream a line came from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Stream {
    /// Standard output.
    Stdout,
    /// Standard error.
    Stderr,
}

impl Stream {
    /// `"stdout"` or `"stderr"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Stream::Stdout => "stdout",
            Stream::Stderr => "stderr",
        }
    }
}

/// One line of a child's output.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogLine {
    /// Where it came from.
    pub stream: Stream,
    /// The line without its newline, decoded as UTF-8 with invalid bytes replaced.
    /// A line longer than the maximum is cut, and ends with `…[cut N bytes]`.
    pub text: String,
    /// When the line was read.
    pub timestamp: SystemTime,
    /// Its position in the process's output, both streams together, from 0. Gaps in
    /// the retained lines mean lines were dropped from the ring buffer.
    pub seq: u64,
}

impl fmt::Display for LogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}] {}", self.stream.as_str(), self.text)
    }
}

/// One retained line: where its text is, and what a `LogLine` needs besides. Kept
/// small (24 bytes): with short lines the records are most of what is written, and
/// writing is what capture costs. The time a line was read is kept once per read
/// (`stamps`), not per line.
#[derive(Clone, Copy)]
struct Record {
    /// Absolute position of its first byte among all bytes ever retained.
    start: u64,
    len: u32,
    /// How many bytes of the line were cut off (not retained), saturating.
    cut: u32,
    stream: Stream,
}

/// What a retained line costs besides its text.
const RECORD_BYTES: usize = std::mem::size_of::<Record>();

/// The retained lines of one process.
pub(crate) struct Capture {
    bytes: VecDeque<u8>,
    /// Absolute position of `bytes[0]`.
    front: u64,
    records: VecDeque<Record>,
    /// When each read happened: (`seq` of its first line, time), oldest first.
    stamps: VecDeque<(u64, SystemTime)>,
    /// `seq` of `records[0]`.
    first_seq: u64,
    dropped: u64,
    budget: usize,
}

impl Capture {
    /// An empty capture keeping at most `budget` bytes (texts and records).
    pub(crate) fn new(budget: usize) -> Capture {
        Capture {
            bytes: VecDeque::new(),
            front: 0,
            records: VecDeque::new(),
            stamps: VecDeque::new(),
            first_seq: 0,
            dropped: 0,
            budget,
        }
    }

    /// Appends one line (without its newline; already cut to the line limit, with
    /// `cut` bytes left out), then drops the oldest lines beyond the budget.
    pub(crate) fn push(&mut self, stream: Stream, text: &[u8], cut: usize, timestamp: SystemTime) {
        let seq = self.next_seq();
        if self.stamps.back().is_none_or(|(_, at)| *at != timestamp) {
            self.stamps.push_back((seq, timestamp));
        }
        let start = self.front + self.bytes.len() as u64;
        self.bytes.extend(text);
        self.records.push_back(Record {
            start,
            len: u32::try_from(text.len()).unwrap_or(u32::MAX),
            cut: u32::try_from(cut).unwrap_or(u32::MAX),
            stream,
        });
    }

    /// Drops the oldest lines until the capture fits its budget (after a batch of
    /// pushes: one pass for the whole batch).
    pub(crate) fn trim(&mut self) {
        // Records first, then the bytes they covered in one cut (a cut per line
        // costs more than the line).
        let mut bytes = self.bytes.len();
        let mut new_front = self.front;
        while self.records.len() > 1 && bytes + self.records.len() * RECORD_BYTES > self.budget {
            let Some(old) = self.records.pop_front() else {
                break;
            };
            let end = old.start + u64::from(old.len);
            bytes -= (end - new_front) as usize;
            new_front = end;
            self.first_seq += 1;
            self.dropped += 1;
        }
        if new_front > self.front {
            self.bytes.drain(..(new_front - self.front) as usize);
            self.front = new_front;
        }
        // A read's stamp goes once the next read's first line is the oldest kept.
        while self.stamps.len() > 1 && self.stamps[1].0 <= self.first_seq {
            self.stamps.pop_front();
        }
    }

    #[cfg(test)]
    fn used(&self) -> usize {
        self.bytes.len() + self.records.len() * RECORD_BYTES
    }

    /// The `seq` the next line will get.
    pub(crate) fn next_seq(&self) -> u64 {
        self.first_seq + self.records.len() as u64
    }

    /// How many lines were dropped from the front so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The retained lines numbered `from` or later, decoded.
    pub(crate) fn lines_from(&self, from: u64) -> Vec<LogLine> {
        let skip = from
            .saturating_sub(self.first_seq)
            .min(self.records.len() as u64) as usize;
        self.records
            .iter()
            .enumerate()
            .skip(skip)
            .map(|(index, record)| self.decode(self.first_seq + index as u64, record))
            .collect()
    }

    fn decode(&self, seq: u64, record: &Record) -> LogLine {
        let offset = (record.start - self.front) as usize;
        let end = offset + record.len as usize;
        // The ring may wrap inside a line: then (only then) the two halves are joined.
        let (head, tail) = self.bytes.as_slices();
        let raw: std::borrow::Cow<'_, [u8]> = if end <= head.len() {
            head[offset..end].into()
        } else if offset >= head.len() {
            tail[offset - head.len()..end - head.len()].into()
        } else {
            [&head[offset..], &tail[..end - head.len()]].concat().into()
        };
        let stamp = self.stamps.partition_point(|(first, _)| *first <= seq);
        LogLine {
            stream: record.stream,
            text: line_text(&raw, record.cut as usize),
            timestamp: stamp
                .checked_sub(1)
                .map_or(SystemTime::UNIX_EPOCH, |i| self.stamps[i].1),
            seq,
        }
    }
}

/// A line's text: lossy UTF-8, without a trailing `\r`, with a cut noted.
pub(crate) fn line_text(bytes: &[u8], cut: usize) -> String {
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    let mut text = String::from_utf8_lossy(bytes).into_owned();
    if cut > 0 {
        text.push_str(&format!("…[cut {cut} bytes]"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(capture: &Capture, from: u64) -> Vec<(u64, String)> {
        capture
            .lines_from(from)
            .into_iter()
            .map(|l| (l.seq, l.text))
            .collect()
    }

    #[test]
    fn lines_come_back_decoded_in_order_with_their_numbers() {
        let mut capture = Capture::new(1 << 20);
        let now = SystemTime::now();
        capture.push(Stream::Stdout, b"first\r", 0, now);
        capture.push(Stream::Stderr, b"caf\xc3\xa9 \xff", 0, now);
        capture.push(Stream::Stdout, b"long", 10, now);
        capture.trim();
        let lines = capture.lines_from(0);
        assert_eq!(lines[0].text, "first");
        assert_eq!(lines[1].text, "café \u{FFFD}");
        assert_eq!(lines[1].stream, Stream::Stderr);
        assert_eq!(lines[2].text, "long…[cut 10 bytes]");
        assert_eq!(
            texts(&capture, 2),
            vec![(2, "long…[cut 10 bytes]".to_string())]
        );
        assert_eq!(capture.next_seq(), 3);
    }

    #[test]
    fn the_oldest_lines_go_first_and_memory_stays_within_the_budget() {
        let budget = 10 * (RECORD_BYTES + 8);
        let mut capture = Capture::new(budget);
        let now = SystemTime::now();
        for i in 0..1000u32 {
            capture.push(Stream::Stdout, format!("line{i:04}").as_bytes(), 0, now);
            capture.trim();
            assert!(capture.used() <= budget, "{} > {budget}", capture.used());
        }
        assert_eq!(capture.dropped(), 990);
        let kept = texts(&capture, 0);
        assert_eq!(kept.len(), 10);
        assert_eq!(kept[0], (990, "line0990".to_string()));
        assert_eq!(kept[9], (999, "line0999".to_string()));
        // Asking from a line that was dropped gives what is left.
        assert_eq!(texts(&capture, 5).len(), 10);
        assert!(texts(&capture, 1000).is_empty());
    }

    #[test]
    fn a_line_larger_than_the_budget_is_kept_alone() {
        let mut capture = Capture::new(8);
        capture.push(Stream::Stdout, &[b'x'; 100], 0, SystemTime::now());
        capture.trim();
        assert_eq!(capture.lines_from(0)[0].text.len(), 100);
    }
}
