//! Fault injection for tests (cargo feature `fault-injection`, on only in test builds): makes
//! the process die the way a native codec crash or the OOM killer would, while it reads a
//! chosen file, so tests can prove that such a file is quarantined and its neighbours indexed.

/// The environment variable naming the file (by its file name) that kills the process.
pub const ABORT_ON: &str = "GLIMPSE_TEST_ABORT_ON";

/// The environment variable naming the picture (by its file name) whose text reading kills the
/// process (the OCR pass, [`crate::ocr`]).
pub const ABORT_ON_TEXT: &str = "GLIMPSE_TEST_ABORT_ON_TEXT";

/// Aborts the process when the picture whose text is about to be read is named by
/// [`ABORT_ON_TEXT`], as a crash inside the text reader would.
pub fn while_reading_text(path: &std::path::Path) {
    abort_if_named(ABORT_ON_TEXT, path);
}

/// Aborts the process (no unwinding, no cleanup, as SIGABRT from a C library) when the file
/// being read is named by [`ABORT_ON`].
pub fn while_reading(path: &std::path::Path) {
    abort_if_named(ABORT_ON, path);
}

/// Aborts when `variable` names `path`'s file name.
fn abort_if_named(variable: &str, path: &std::path::Path) {
    let Some(name) = std::env::var_os(variable) else {
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
