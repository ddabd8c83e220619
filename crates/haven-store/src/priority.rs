//! Keeps SQLite's write thread behind the answer path in the scheduler. On a small school server
//! the activity writer shares two cores with DNS; a batch commit takes tens of milliseconds of
//! CPU, and at the same priority it would make answers wait for a time slice.

use rustix::process::{Pid, getpriority_process, setpriority_process};

/// Name of the write connection's worker thread (Linux keeps the first 15 bytes).
pub(crate) const WRITER_THREAD: &str = "haven-sqlite-w";

/// Nice value for that thread. At 5 it gets about a third of a nice-0 thread's share while
/// both want the CPU (about 10 % of a core keeps up with 70,000 DNS events/s), and all the idle
/// time otherwise; a higher value starved it into dropping events under an unlimited bench.
const WRITER_NICE: i32 = 5;

/// Lower every thread of this process named [`WRITER_THREAD`] to [`WRITER_NICE`], leaving
/// those already there alone. Cheap (a few small /proc reads) and silent: without /proc or the
/// permission, the threads keep their priority and nothing else changes.
pub(crate) fn lower_writer_threads() {
    let Ok(dir) = std::fs::read_dir("/proc/self/task") else { return };
    for entry in dir.flatten() {
        let Some(pid) = entry.file_name().to_str().and_then(|s| s.parse::<i32>().ok()).and_then(Pid::from_raw) else { continue };
        let named = std::fs::read_to_string(entry.path().join("comm")).is_ok_and(|c| c.starts_with(WRITER_THREAD));
        if named && getpriority_process(Some(pid)).is_ok_and(|p| p < WRITER_NICE) {
            let _ = setpriority_process(Some(pid), WRITER_NICE);
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use std::sync::mpsc;

    use super::*;

    #[test]
    fn lowers_only_the_writer_thread() {
        let (tid_tx, tid_rx) = mpsc::channel();
        let (done_tx, done_rx) = mpsc::channel::<()>();
        let t = std::thread::Builder::new()
            .name(format!("{WRITER_THREAD}9"))
            .spawn(move || {
                tid_tx.send(rustix::thread::gettid()).unwrap();
                let _ = done_rx.recv();
            })
            .unwrap();
        let writer = tid_rx.recv().unwrap();
        let me = rustix::thread::gettid();
        let mine = getpriority_process(Some(me)).unwrap();
        lower_writer_threads();
        assert_eq!(getpriority_process(Some(writer)).unwrap(), WRITER_NICE.max(mine));
        assert_eq!(getpriority_process(Some(me)).unwrap(), mine, "other threads keep their priority");
        done_tx.send(()).unwrap();
        t.join().unwrap();
    }
}
