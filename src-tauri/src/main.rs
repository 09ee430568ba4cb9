//! Placeholder for the Glimpse desktop shell (Tauri 2). The shell arrives with the desktop-app
//! issue; it stays a thin layer over the `glimpse` engine, so this crate only proves the
//! workspace wiring and that the engine builds without any GUI dependency.

fn main() -> std::process::ExitCode {
    eprintln!(
        "glimpse-app {}: the desktop app is not built yet; use the `glimpse` command line",
        glimpse::VERSION
    );
    std::process::ExitCode::from(2)
}
