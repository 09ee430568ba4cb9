//! Its own test binary: the panic hook and the `tracing` subscriber are process-wide, so the
//! check runs itself again as a child (`--exact panic_in_child`) whose stderr must hold one line.
//!
//! The panic hook of the CLI and the app: a caught decoder panic is one `tracing` line with its
//! location on stderr, never Rust's default message and backtrace.

use std::process::Command;

/// Set in the child process, which installs the hook and panics.
const CHILD: &str = "GLIMPSE_TEST_PANIC_HOOK_CHILD";

#[test]
fn a_caught_panic_is_one_log_line_without_a_backtrace() {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "panic_in_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env("RUST_BACKTRACE", "full")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stdout}\n{stderr}");
    assert!(stdout.contains("caught and carried on"), "{stdout}");
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "{stderr}");
    let line = lines[0];
    assert!(line.contains("ERROR"), "{line}");
    assert!(
        line.contains("panic at tests/panic_hook.rs:") && line.ends_with(": a decoder gave up"),
        "{line}"
    );
    for word in ["panicked", "backtrace", "second line"] {
        assert!(!stderr.contains(word), "{word}: {stderr}");
    }
}

#[test]
fn panic_in_child() {
    if std::env::var_os(CHILD).is_none() {
        // Only meaningful as the child of the test above.
        return;
    }
    // As the CLI sets up its logging.
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .without_time()
        .with_ansi(false)
        .init();
    glimpse_clip::decode::log_panics();
    let caught = std::panic::catch_unwind(|| -> u32 {
        panic!("a decoder gave up\nsecond line");
    });
    assert!(caught.is_err());
    println!("caught and carried on");
}
