//! Index one folder into a fresh library and answer one text query, with the engine crates
//! alone (no CLI, no window): the smallest complete use of Glimpse as a library.
//!
//! ```sh
//! cargo run --example search_folder -- models/test/tiny-clip tests/fixtures/images "a red car"
//! ```
//! ONNX Runtime comes from `ORT_DYLIB_PATH` (`bash scripts/setup.sh` prints it).

use anyhow::{bail, Context, Result};
use glimpse_clip::device::Device;
use glimpse_clip::encode::{ImageEncoder, TextEncoder};
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::{self, RuntimeOptions};
use glimpse_library::pipeline::Control;
use glimpse_library::Library;
use glimpse_query::search::{self, Request};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, folder, query] = args.as_slice() else {
        bail!("usage: search_folder MODEL_DIR PHOTO_FOLDER QUERY");
    };
    let rt = runtime::load(&RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    })
    .context("ONNX Runtime (set ORT_DYLIB_PATH)")?;
    let files = ModelFiles::open(&PathBuf::from(model))?;
    let images = ImageEncoder::open(&rt.env, &files, Device::Cpu)?;

    // A library of its own, in a temporary folder: the catalog, the vectors, the previews.
    let home = tempfile::tempdir()?;
    let mut library = Library::open(home.path(), &files.name, images.dim())?;
    let summary = library.index(
        &[PathBuf::from(folder)],
        &images,
        2,
        &Control::default(),
        &mut |_| {},
    )?;
    println!(
        "indexed {} of {} files found",
        summary.progress.done, summary.scanned
    );

    // The words → one vector in the images' space → the nearest photos.
    let text = TextEncoder::open(&rt.env, &files, Device::Cpu)?;
    let vector = search::text_query_vector(&text, &search::parse(query), &[])?;
    let page = search::nearest(&library, &vector, &Request::new(5))?;
    for hit in &page.hits {
        let score = hit.score.unwrap_or(f32::NAN);
        println!("{score:.3}  {}", hit.photo.path.display());
    }
    Ok(())
}
