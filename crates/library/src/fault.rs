//! Fault injection for tests (cargo feature `fault-injection`, on only in test builds): makes
//! the process die the way a native codec crash or the OOM killer would, while it reads a
//! chosen file, so tests can prove that such a file is quarantined and its neighbours indexed.

/// The environment variable naming the file (by its file name) that kills the process.
pub const ABORT_ON: &str = "GLIMPSE_TEST_ABORT_ON";

/// Aborts the process (no unwinding, no cleanup, as SIGABRT from a C library) when the file
/// being read is named by [`ABORT_ON`].
pub fn while_reading(path: &std::path::Path) {
    let Some(name) = std::env::var_os(ABORT_ON) else {
        return;
    };
    if path.file_name() == Some(name.as_os_str()) {
        eprintln!(
            "glimpse: fault injection: aborting while reading {}",
            path.display()
        );
        std::process::abort();
    }
}
