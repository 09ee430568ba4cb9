//! System codec libraries loaded at run time (libheif, LibRaw): a machine without them still
//! builds and runs Glimpse and reports the formats they decode as unsupported, and an older
//! library in a distribution does not block the build.

use std::sync::OnceLock;

/// Opens the first of `names` that loads, so one list covers every platform's and version's
/// file name; the error says why each name failed.
pub(crate) fn open_first(
    names: &[&'static str],
) -> Result<(libloading::Library, &'static str), String> {
    let mut tried = Vec::new();
    for &name in names {
        // SAFETY: the libraries named are codec libraries whose initialisers only set up their
        // own state.
        match unsafe { libloading::Library::new(name) } {
            Ok(lib) => return Ok((lib, name)),
            Err(e) => tried.push(format!("{name}: {e}")),
        }
    }
    Err(tried.join("; "))
}

/// Loads a library once per process and binds its functions with `bind`: later calls get the
/// same functions, or the same reason why the library is missing.
pub(crate) fn load_once<T>(
    cell: &'static OnceLock<Result<T, String>>,
    names: &[&'static str],
    bind: fn(libloading::Library) -> Result<T, libloading::Error>,
) -> Result<&'static T, &'static str> {
    cell.get_or_init(|| {
        let (lib, name) = open_first(names)?;
        bind(lib).map_err(|e| format!("{name}: {e}"))
    })
    .as_ref()
    .map_err(String::as_str)
}
