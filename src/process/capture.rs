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
//! - Memory stays within the budget: the retained bytes (texts, and the newlines a
//!   run of lines brings between them) plus the size of their records never exceed it
//!   for longer than one push, and the oldest lines go first (counted in `dropped`). A single line longer than the whole budget is kept
//!   alone (it is cut at the line limit before it gets here).
//! - Once frozen (every stream closed), nothing is added or dropped: the lines move,
//!   without a copy, into one shared block that every later output hands out.
//! - A record's `start` is an absolute position in the stream of retained bytes, so
//!   dropping from the front never rewrites the other records.

use std::collections::VecDeque;
use std::sync::Arc;
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
/// small (16 bytes): with short lines the records are much of what is written, and
/// writing is what capture costs. The time a line was read is kept once per read
/// (`stamps`), not per line.
#[derive(Clone, Copy)]
struct Record {
    /// Absolute position of its first byte among all bytes ever retained.
    start: u64,
    /// Its length in bytes (below 2^31), and in the top bit whether it came from
    /// stderr.
    len_and_stream: u32,
    /// How many bytes of the line were cut off (not retained), saturating.
    cut: u32,
}

const STDERR_BIT: u32 = 1 << 31;

impl Record {
    fn new(start: u64, len: usize, cut: usize, stream: Stream) -> Record {
        let len = u32::try_from(len).unwrap_or(u32::MAX).min(STDERR_BIT - 1);
        let bit = if stream == Stream::Stderr {
            STDERR_BIT
        } else {
            0
        };
        Record {
            start,
            len_and_stream: len | bit,
            cut: u32::try_from(cut).unwrap_or(u32::MAX),
        }
    }

    fn len(&self) -> usize {
        (self.len_and_stream & !STDERR_BIT) as usize
    }

    fn stream(&self) -> Stream {
        if self.len_and_stream & STDERR_BIT != 0 {
            Stream::Stderr
        } else {
            Stream::Stdout
        }
    }
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
    /// All of the above, once no more lines can come (see [`Capture::freeze`]).
    frozen: Option<Arc<Frozen>>,
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
            frozen: None,
        }
    }

    /// Appends one line (without its newline; already cut to the line limit, with
    /// `cut` bytes left out). [`trim`](Self::trim) drops what is beyond the budget.
    pub(crate) fn push(&mut self, stream: Stream, text: &[u8], cut: usize, timestamp: SystemTime) {
        debug_assert!(self.frozen.is_none(), "a line after the capture ended");
        self.stamp(timestamp);
        let start = self.end();
        self.bytes.extend(text);
        self.records
            .push_back(Record::new(start, text.len(), cut, stream));
    }

    /// Appends a run of whole lines, each ending in `\n`, as read: the bytes go in with
    /// one copy (newlines included, never decoded), then a record per line. A line
    /// longer than `max_line` keeps its first `max_line` bytes and notes the cut.
    pub(crate) fn push_run(
        &mut self,
        stream: Stream,
        run: &[u8],
        max_line: usize,
        timestamp: SystemTime,
    ) {
        debug_assert!(run.last() == Some(&b'\n'));
        debug_assert!(self.frozen.is_none(), "lines after the capture ended");
        self.stamp(timestamp);
        // `segment` is the part of `run` not yet copied, and `at` the absolute
        // position its first byte will have.
        let mut segment = 0;
        let mut at = self.end();
        let mut line_start = 0;
        for newline in memchr::memchr_iter(b'\n', run) {
            let len = newline - line_start;
            if len <= max_line {
                let start = at + (line_start - segment) as u64;
                self.records.push_back(Record::new(start, len, 0, stream));
            } else {
                // Copy up to the kept part, then skip the rest of the line.
                let start = at + (line_start - segment) as u64;
                self.bytes.extend(&run[segment..line_start + max_line]);
                self.records
                    .push_back(Record::new(start, max_line, len - max_line, stream));
                segment = newline + 1;
                at = self.end();
            }
            line_start = newline + 1;
        }
        self.bytes.extend(&run[segment..]);
    }

    /// Absolute position of the next byte to be retained.
    fn end(&self) -> u64 {
        self.front + self.bytes.len() as u64
    }

    /// Notes the time of a read whose first line is the next one.
    fn stamp(&mut self, timestamp: SystemTime) {
        let seq = self.next_seq();
        if self.stamps.back().is_none_or(|(_, at)| *at != timestamp) {
            self.stamps.push_back((seq, timestamp));
        }
    }

    /// Drops the oldest lines until the capture fits its budget (after a batch of
    /// pushes: one pass for the whole batch).
    pub(crate) fn trim(&mut self) {
        // Records first, then the bytes they covered in one cut (a cut per line
        // costs more than the line).
        let mut bytes = self.bytes.len();
        let mut new_front = self.front;
        while self.records.len() > 1 && bytes + self.records.len() * RECORD_BYTES > self.budget {
            if self.records.pop_front().is_none() {
                break;
            }
            // Up to where the next kept line starts: a newline or a skipped rest
            // between them goes with it.
            let next = self.records.front().map_or(self.end(), |r| r.start);
            bytes -= (next - new_front) as usize;
            new_front = next;
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
        if let Some(all) = &self.frozen {
            return all.first_seq + all.records.len() as u64;
        }
        self.first_seq + self.records.len() as u64
    }

    /// How many lines were dropped from the front so far.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }

    /// The retained lines numbered `from` or later, decoded.
    pub(crate) fn lines_from(&self, from: u64) -> Vec<LogLine> {
        self.retained_from(from).decode_all()
    }

    /// The retained lines numbered `from` or later, still raw. Once the capture is
    /// [frozen](Self::freeze) this shares its lines; before, it copies them (copying
    /// bytes is cheap next to decoding them, and the copy lets the lock go).
    pub(crate) fn retained_from(&self, from: u64) -> Retained {
        if let Some(all) = &self.frozen {
            let skip = from
                .saturating_sub(all.first_seq)
                .min(all.records.len() as u64);
            return Retained {
                all: Arc::clone(all),
                skip: skip as usize,
            };
        }
        let skip = from
            .saturating_sub(self.first_seq)
            .min(self.records.len() as u64) as usize;
        let first_seq = self.first_seq + skip as u64;
        let records: Vec<Record> = self.records.range(skip..).copied().collect();
        let begin = records
            .first()
            .map_or(self.bytes.len(), |r| (r.start - self.front) as usize);
        let (head, tail) = self.bytes.as_slices();
        let mut bytes = Vec::with_capacity(self.bytes.len() - begin);
        if begin < head.len() {
            bytes.extend_from_slice(&head[begin..]);
            bytes.extend_from_slice(tail);
        } else {
            bytes.extend_from_slice(&tail[begin - head.len()..]);
        }
        // Only the stamps that cover a copied line: the last one at or before it, on.
        let first_stamp = self
            .stamps
            .partition_point(|(seq, _)| *seq <= first_seq)
            .saturating_sub(1);
        Retained {
            all: Arc::new(Frozen {
                base: self.front + begin as u64,
                bytes,
                records,
                stamps: self.stamps.range(first_stamp..).copied().collect(),
                first_seq,
            }),
            skip: 0,
        }
    }

    /// Ends the capture (every stream is closed): the ring's memory becomes one
    /// shared, read-only block, so each later [`retained_from`](Self::retained_from)
    /// is a reference count rather than a copy of the whole budget.
    pub(crate) fn freeze(&mut self) {
        if self.frozen.is_some() {
            return;
        }
        // `Vec::from` a `VecDeque` reuses its buffer (moving the halves in place when
        // the ring has wrapped).
        self.frozen = Some(Arc::new(Frozen {
            base: self.front,
            bytes: Vec::from(std::mem::take(&mut self.bytes)),
            records: Vec::from(std::mem::take(&mut self.records)),
            stamps: Vec::from(std::mem::take(&mut self.stamps)),
            first_seq: self.first_seq,
        }));
    }
}

/// Lines taken out of a [`Capture`]: raw, shared, decoded when asked for.
#[derive(Clone)]
pub(crate) struct Retained {
    all: Arc<Frozen>,
    /// How many of `all`'s lines come before the first one of these.
    skip: usize,
}

/// A block of retained lines that no longer changes.
struct Frozen {
    /// Absolute position of `bytes[0]` (records keep absolute starts).
    base: u64,
    bytes: Vec<u8>,
    records: Vec<Record>,
    /// (`seq` of the first line of a read, its time), oldest first.
    stamps: Vec<(u64, SystemTime)>,
    /// `seq` of `records[0]`.
    first_seq: u64,
}

impl Retained {
    fn records(&self) -> &[Record] {
        &self.all.records[self.skip..]
    }

    fn first_seq(&self) -> u64 {
        self.all.first_seq + self.skip as u64
    }

    /// How many lines there are.
    pub(crate) fn len(&self) -> usize {
        self.records().len()
    }

    /// The `seq` of the newest line, if there is one.
    pub(crate) fn last_seq(&self) -> Option<u64> {
        (self.len() > 0).then(|| self.first_seq() + self.len() as u64 - 1)
    }

    fn raw(&self, record: &Record) -> &[u8] {
        let offset = (record.start - self.all.base) as usize;
        &self.all.bytes[offset..offset + record.len()]
    }

    /// Every line, decoded, oldest first.
    pub(crate) fn decode_all(&self) -> Vec<LogLine> {
        let stamps = &self.all.stamps;
        let first_seq = self.first_seq();
        // The stamps are walked beside the lines, not searched once per line.
        let mut stamp = stamps
            .partition_point(|(seq, _)| *seq <= first_seq)
            .saturating_sub(1);
        self.records()
            .iter()
            .zip(first_seq..)
            .map(|(record, seq)| {
                while stamps
                    .get(stamp + 1)
                    .is_some_and(|(first, _)| *first <= seq)
                {
                    stamp += 1;
                }
                LogLine {
                    stream: record.stream(),
                    text: line_text(self.raw(record), record.cut as usize),
                    timestamp: stamps.get(stamp).map_or(SystemTime::UNIX_EPOCH, |s| s.1),
                    seq,
                }
            })
            .collect()
    }

    /// The lines of one stream joined with newlines, decoded straight into one
    /// `String` (no `LogLine` per line).
    pub(crate) fn text(&self, stream: Stream) -> String {
        let mut text = String::new();
        for (index, record) in self
            .records()
            .iter()
            .filter(|r| r.stream() == stream)
            .enumerate()
        {
            if index > 0 {
                text.push('\n');
            }
            push_line_text(&mut text, self.raw(record), record.cut as usize);
        }
        text
    }
}

/// A line's text: lossy UTF-8, without a trailing `\r`, with a cut noted.
pub(crate) fn line_text(bytes: &[u8], cut: usize) -> String {
    let mut text = String::new();
    push_line_text(&mut text, bytes, cut);
    text
}

/// Appends a line's text (see [`line_text`]) to `text`.
fn push_line_text(text: &mut String, bytes: &[u8], cut: usize) {
    use std::fmt::Write;
    let bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
    text.push_str(&String::from_utf8_lossy(bytes));
    if cut > 0 {
        let _ = write!(text, "…[cut {cut} bytes]");
    }
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
    fn a_frozen_copy_gives_the_same_lines_and_joins_a_stream_without_decoding_each() {
        // A small budget so the ring wraps inside the retained bytes.
        let mut capture = Capture::new(6 * (RECORD_BYTES + 6));
        let start = SystemTime::UNIX_EPOCH;
        for i in 0..50u64 {
            let stream = if i % 3 == 0 {
                Stream::Stderr
            } else {
                Stream::Stdout
            };
            let text = if i % 5 == 0 {
                String::new()
            } else {
                format!("l{i:02}\r")
            };
            let at = start + std::time::Duration::from_secs(i / 2);
            capture.push(stream, text.as_bytes(), usize::from(i == 49), at);
            capture.trim();
        }
        let frozen = capture.retained_from(0);
        let lines = frozen.decode_all();
        assert_eq!(lines, capture.lines_from(0));
        assert_eq!(frozen.len(), lines.len());
        assert_eq!(frozen.last_seq(), Some(49));
        // Each line keeps the time of the read it came in.
        for line in &lines {
            assert_eq!(
                line.timestamp,
                start + std::time::Duration::from_secs(line.seq / 2)
            );
        }
        for stream in [Stream::Stdout, Stream::Stderr] {
            let joined: Vec<&str> = lines
                .iter()
                .filter(|l| l.stream == stream)
                .map(|l| l.text.as_str())
                .collect();
            assert_eq!(frozen.text(stream), joined.join("\n"), "{stream:?}");
        }
        assert_eq!(lines.last().unwrap().text, "l49…[cut 1 bytes]");
        // From the middle, and from past the end.
        let tail = capture.retained_from(48);
        assert_eq!(tail.decode_all(), capture.lines_from(48));
        assert_eq!(tail.len(), 2);
        let none = capture.retained_from(50);
        assert_eq!((none.len(), none.last_seq()), (0, None));
        assert!(none.decode_all().is_empty());

        // Frozen, the same lines come out, shared rather than copied.
        let (next, dropped) = (capture.next_seq(), capture.dropped());
        capture.freeze();
        assert_eq!((capture.next_seq(), capture.dropped()), (next, dropped));
        assert_eq!(capture.lines_from(0), lines);
        assert_eq!(capture.lines_from(48), tail.decode_all());
        assert_eq!(
            capture.retained_from(0).text(Stream::Stdout),
            frozen.text(Stream::Stdout)
        );
        let (a, b) = (capture.retained_from(0), capture.retained_from(48));
        assert!(Arc::ptr_eq(&a.all, &b.all));
        assert_eq!((b.len(), b.last_seq()), (2, Some(49)));
        assert_eq!(capture.retained_from(50).last_seq(), None);
    }

    #[test]
    fn a_run_of_lines_goes_in_with_one_copy_and_cuts_overlong_lines() {
        let mut capture = Capture::new(1 << 20);
        let now = SystemTime::now();
        capture.push(Stream::Stdout, b"single", 0, now);
        capture.push_run(Stream::Stderr, b"a\n\nlong line here\nb\r\nxyz\n", 4, now);
        capture.push_run(Stream::Stdout, b"0123456789\n", 4, now);
        capture.trim();
        let lines: Vec<(Stream, String)> = capture
            .lines_from(0)
            .into_iter()
            .map(|l| (l.stream, l.text))
            .collect();
        let err = |t: &str| (Stream::Stderr, t.to_string());
        assert_eq!(
            lines,
            vec![
                (Stream::Stdout, "single".to_string()),
                err("a"),
                err(""),
                err("long…[cut 10 bytes]"),
                err("b"),
                err("xyz"),
                (Stream::Stdout, "0123…[cut 6 bytes]".to_string()),
            ]
        );
        assert_eq!(
            capture.retained_from(0).text(Stream::Stderr),
            "a\n\nlong…[cut 10 bytes]\nb\nxyz"
        );
        // Trimming through runs frees what they copied, newlines included.
        let mut small = Capture::new(3 * (RECORD_BYTES + 3));
        for _ in 0..100 {
            small.push_run(Stream::Stdout, b"ab\ncd\nef\n", 64, now);
            small.trim();
            assert!(small.used() <= 3 * (RECORD_BYTES + 3), "{}", small.used());
        }
        assert_eq!(texts(&small, 0).len(), 3);
        assert_eq!(small.dropped(), 297);
    }

    #[test]
    fn a_line_larger_than_the_budget_is_kept_alone() {
        let mut capture = Capture::new(8);
        capture.push(Stream::Stdout, &[b'x'; 100], 0, SystemTime::now());
        capture.trim();
        assert_eq!(capture.lines_from(0)[0].text.len(), 100);
    }
}
