//! Where `vitrine`'s log lines go: standard error, written in batches.
//!
//! A server logs one line per request. Written one `write` call each, under a listing load
//! those calls took 9 % of the server's CPU (docs/benchmarks.md, "The listing path"); a queue
//! with a writer thread woken for each line cost nearly as much in wake-ups. Here a line is
//! copied into a shared buffer, and a thread of its own (`vitrine-log`) writes the buffer out
//! every [`FLUSH_EVERY`] — one call for everything logged meanwhile. Warnings and errors are
//! written at once, with whatever was logged before them.
//!
//! Invariants:
//! - Lines come out whole and in the order they were logged (one buffer, written under one lock).
//! - Nothing is dropped. A buffer past [`HIGH_WATER`] is written by the thread that filled it,
//!   so memory stays bounded when logging outpaces the writer.
//! - A line waits at most about [`FLUSH_EVERY`]; dropping the [`Guard`] (at the end of `main`)
//!   writes what is left before the process exits.

use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// How long a logged line may wait in the buffer.
pub const FLUSH_EVERY: Duration = Duration::from_millis(100);

/// Buffered bytes past which the logging thread writes the buffer out itself.
pub const HIGH_WATER: usize = 1 << 20;

/// The log sink: hand it to `tracing_subscriber::fmt().with_writer(..)`.
#[derive(Clone)]
pub struct BatchedWriter<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
}

struct Shared<W> {
    pending: Mutex<Vec<u8>>,
    /// Held while a batch is written: batches go out in the order they were taken.
    out: Mutex<W>,
    stopping: AtomicBool,
}

/// Keeps the writer thread; dropping it stops the thread and writes what is left.
pub struct Guard<W: Write + Send + 'static> {
    shared: Arc<Shared<W>>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl<W: Write + Send + 'static> Shared<W> {
    /// Write out what is pending (under `pending`'s lock when called; it is released as soon
    /// as the batch is taken and the output held, so loggers wait only for the swap).
    fn write_out(&self, mut pending: MutexGuard<'_, Vec<u8>>) {
        if pending.is_empty() {
            return;
        }
        let batch = std::mem::take(&mut *pending);
        let mut out = lock(&self.out);
        drop(pending);
        // Nowhere to report a failing standard error; the lines are lost, the store goes on.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
    }
}

/// Standard error, batched ([`BatchedWriter`]), and the guard to keep until exit.
pub fn stderr() -> io::Result<(BatchedWriter<io::Stderr>, Guard<io::Stderr>)> {
    batched(io::stderr(), FLUSH_EVERY)
}

/// `out`, batched, written every `every`.
pub fn batched<W: Write + Send + 'static>(
    out: W,
    every: Duration,
) -> io::Result<(BatchedWriter<W>, Guard<W>)> {
    let shared = Arc::new(Shared {
        pending: Mutex::new(Vec::with_capacity(64 * 1024)),
        out: Mutex::new(out),
        stopping: AtomicBool::new(false),
    });
    let for_thread = shared.clone();
    let thread = std::thread::Builder::new()
        .name("vitrine-log".into())
        .spawn(move || {
            let mut written_at = Instant::now();
            loop {
                // Parking may end early (an unpark, or spuriously): write only on time.
                std::thread::park_timeout(every.saturating_sub(written_at.elapsed()));
                if for_thread.stopping.load(Ordering::Acquire) {
                    return; // the guard writes the rest
                }
                if written_at.elapsed() >= every {
                    for_thread.write_out(lock(&for_thread.pending));
                    written_at = Instant::now();
                }
            }
        })?;
    Ok((
        BatchedWriter {
            shared: shared.clone(),
        },
        Guard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl<W: Write + Send + 'static> Drop for Guard<W> {
    fn drop(&mut self) {
        self.shared.stopping.store(true, Ordering::Release);
        if let Some(thread) = self.thread.take() {
            thread.thread().unpark();
            let _ = thread.join();
        }
        self.shared.write_out(lock(&self.shared.pending));
    }
}

/// One log line's writer (the formatter writes each line with one `write_all`).
pub struct Line<'a, W: Write + Send + 'static> {
    shared: &'a Shared<W>,
    /// A warning or an error: written out at once.
    urgent: bool,
}

impl<W: Write + Send + 'static> Write for Line<'_, W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let mut pending = lock(&self.shared.pending);
        pending.extend_from_slice(buf);
        if self.urgent
            || pending.len() >= HIGH_WATER
            || self.shared.stopping.load(Ordering::Acquire)
        {
            self.shared.write_out(pending);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + Send + 'static> tracing_subscriber::fmt::MakeWriter<'a> for BatchedWriter<W> {
    type Writer = Line<'a, W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            shared: &self.shared,
            urgent: false,
        }
    }

    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> Self::Writer {
        Line {
            shared: &self.shared,
            urgent: *meta.level() <= tracing::Level::WARN,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Write` that appends to a shared buffer and counts the calls.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<(Vec<u8>, usize)>>);

    impl Write for Sink {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            let mut s = lock(&self.0);
            s.0.extend_from_slice(buf);
            s.1 += 1;
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    fn log(w: &BatchedWriter<Sink>, line: &str) {
        use tracing_subscriber::fmt::MakeWriter as _;
        w.make_writer().write_all(line.as_bytes()).unwrap();
    }

    #[test]
    fn lines_from_many_threads_come_out_whole_in_few_writes_and_all_by_the_guards_drop() {
        let sink = Sink::default();
        // Long enough that only the guard's drop writes.
        let (writer, guard) = batched(sink.clone(), Duration::from_secs(3600)).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let writer = writer.clone();
                s.spawn(move || {
                    for i in 0..1000 {
                        log(&writer, &format!("thread {t} line {i}\n"));
                    }
                });
            }
        });
        assert_eq!(lock(&sink.0).1, 0, "nothing written before the drop");
        drop(guard);
        let (bytes, writes) = lock(&sink.0).clone();
        let text = String::from_utf8(bytes).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4000);
        assert_eq!(writes, 1, "one write for everything");
        for t in 0..4 {
            let mine: Vec<usize> = lines
                .iter()
                .filter_map(|l| l.strip_prefix(&format!("thread {t} line ")))
                .map(|n| n.parse().unwrap())
                .collect();
            assert_eq!(
                mine,
                (0..1000).collect::<Vec<_>>(),
                "thread {t}'s lines in order"
            );
        }
    }

    #[test]
    fn a_warning_is_written_at_once_after_what_was_logged_before_it() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone(), Duration::from_secs(3600)).unwrap();
        let subscriber = tracing_subscriber::fmt()
            .with_ansi(false)
            .with_writer(writer)
            .finish();
        let text = || String::from_utf8(lock(&sink.0).0.clone()).unwrap();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!("first");
            assert_eq!(text(), "", "an info line waits");
            tracing::warn!("second");
            let out = text();
            let lines: Vec<&str> = out.lines().collect();
            assert_eq!(lines.len(), 2, "{out}");
            assert!(
                lines[0].contains("INFO") && lines[0].ends_with("first"),
                "{out}"
            );
            assert!(
                lines[1].contains("WARN") && lines[1].ends_with("second"),
                "{out}"
            );
        });
        drop(guard);
    }

    #[test]
    fn the_thread_writes_a_line_within_its_period_and_a_full_buffer_is_written_at_once() {
        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone(), Duration::from_millis(20)).unwrap();
        log(&writer, "first\n");
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while lock(&sink.0).0.is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(lock(&sink.0).0, b"first\n");
        drop(guard);

        let sink = Sink::default();
        let (writer, guard) = batched(sink.clone(), Duration::from_secs(3600)).unwrap();
        let line = "x".repeat(1023) + "\n";
        for _ in 0..(HIGH_WATER / 1024) {
            log(&writer, &line);
        }
        assert_eq!(lock(&sink.0).0.len(), HIGH_WATER, "written by the logger");
        log(&writer, "after\n");
        drop(guard);
        assert_eq!(lock(&sink.0).0.len(), HIGH_WATER + 6);
    }
}
