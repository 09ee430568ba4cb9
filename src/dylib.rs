//! System codec libraries loaded at run time (libheif, LibRaw): a machine without them still
//! builds and runs Glimpse and reports the formats they decode as unsupported, and an older
//! library in a distribution does not block the build.

/// Opens the first of `names` that loads, so one list covers every platform's and version's
/// file name; the error says why each name failed.
pub fn open_first(names: &[&'static str]) -> Result<(libloading::Library, &'static str), String> {
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
