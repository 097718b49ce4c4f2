//! Reading a process's output: each pipe to its end into the capture, a read's lines
//! at a time, lines cut at a maximum length, logged while the budget lasts.

use std::io::{self, Read};
use std::sync::atomic::Ordering;
use std::time::SystemTime;

use super::capture::{line_text, Stream};
use super::shared::Shared;

/// Reads `pipe` to its end into the capture, one read at a time: the lines of a read
/// go in under one lock and one wake-up, as raw bytes (decoded only when asked for).
/// A line longer than `max_line` is cut (its rest is skipped, not buffered); a line
/// split across reads waits in `pending`. While the log budget lasts and a subscriber
/// listens, lines are also logged, after the lock is released.
pub(super) fn read_lines(
    shared: &Shared,
    stream: Stream,
    mut pipe: Box<dyn Read + Send>,
    max_line: usize,
    log: bool,
) {
    let mut chunk = vec![0u8; 64 << 10];
    let mut pending: Vec<u8> = Vec::new();
    let mut pending_cut = 0usize;
    let mut to_log: Vec<String> = Vec::new();
    loop {
        let read = match pipe.read(&mut chunk) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => {
                tracing::warn!(process = %shared.name, stream = stream.as_str(), error = %e, "reading output failed");
                break;
            }
        };
        let logging = log
            && shared.log_budget.load(Ordering::Relaxed) > 0
            && tracing::enabled!(tracing::Level::INFO);
        let timestamp = SystemTime::now();
        let mut rest = &chunk[..read];
        {
            let mut state = shared.state.lock();
            // The end of a line begun in an earlier read.
            if !pending.is_empty() || pending_cut > 0 {
                if let Some(newline) = memchr::memchr(b'\n', rest) {
                    take_bounded(&mut pending, &mut pending_cut, &rest[..newline], max_line);
                    state.capture.push(stream, &pending, pending_cut, timestamp);
                    if logging {
                        to_log.push(line_text(&pending, pending_cut));
                    }
                    pending.clear();
                    pending_cut = 0;
                    rest = &rest[newline + 1..];
                }
            }
            // Every whole line of the read at once (none if a line is still pending).
            if pending.is_empty() && pending_cut == 0 {
                if let Some(last) = memchr::memrchr(b'\n', rest) {
                    let run = &rest[..=last];
                    state.capture.push_run(stream, run, max_line, timestamp);
                    if logging {
                        to_log.extend(run[..last].split(|b| *b == b'\n').map(|line| {
                            let kept = line.len().min(max_line);
                            line_text(&line[..kept], line.len() - kept)
                        }));
                    }
                    rest = &rest[last + 1..];
                }
            }
            state.capture.trim();
        }
        shared.new_lines.notify_all();
        take_bounded(&mut pending, &mut pending_cut, rest, max_line);
        for text in to_log.drain(..) {
            shared.log_line(stream, &text);
        }
    }
    if !pending.is_empty() || pending_cut > 0 {
        let mut state = shared.state.lock();
        state
            .capture
            .push(stream, &pending, pending_cut, SystemTime::now());
        state.capture.trim();
        drop(state);
        if log {
            shared.log_line(stream, &line_text(&pending, pending_cut));
        }
        shared.new_lines.notify_all();
    }
}

fn take_bounded(line: &mut Vec<u8>, cut: &mut usize, bytes: &[u8], max_line: usize) {
    let room = max_line.saturating_sub(line.len());
    let kept = bytes.len().min(room);
    line.extend_from_slice(&bytes[..kept]);
    *cut += bytes.len() - kept;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_keeps_its_start_and_counts_what_was_cut() {
        let (mut line, mut cut) = (Vec::new(), 0);
        take_bounded(&mut line, &mut cut, b"hello ", 8);
        take_bounded(&mut line, &mut cut, b"world", 8);
        assert_eq!((line.as_slice(), cut), (&b"hello wo"[..], 3));
        take_bounded(&mut line, &mut cut, b"!", 8);
        assert_eq!((line.len(), cut), (8, 4));
        // No room at all: everything is counted, nothing kept.
        let (mut line, mut cut) = (Vec::new(), 0);
        take_bounded(&mut line, &mut cut, b"abc", 0);
        assert_eq!((line.len(), cut), (0, 3));
    }
}
