//! Embed one picture and one caption and print how well they match: the CLIP engine crate on
//! its own, as a program that wants embeddings (not a library) would use it.
//!
//! ```sh
//! cargo run --example embed_pair -- models/test/tiny-clip tests/fixtures/images/jpeg_baseline.jpg "a photo"
//! ```

use anyhow::{bail, Context, Result};
use glimpse_clip::device::Device;
use glimpse_clip::embedding::dot;
use glimpse_clip::encode::{ImageEncoder, TextEncoder};
use glimpse_clip::model::ModelFiles;
use glimpse_clip::runtime::{self, RuntimeOptions};
use std::path::PathBuf;

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, picture, caption] = args.as_slice() else {
        bail!("usage: embed_pair MODEL_DIR PICTURE CAPTION");
    };
    let rt = runtime::load(&RuntimeOptions {
        allow_download: false,
        ..RuntimeOptions::default()
    })
    .context("ONNX Runtime (set ORT_DYLIB_PATH)")?;
    let files = ModelFiles::open(&PathBuf::from(model))?;
    let encoder = ImageEncoder::open(&rt.env, &files, Device::Cpu)?;
    let mut image = None;
    encoder.embed_files(&[PathBuf::from(picture)], 1, |_, result| {
        image = Some(result)
    });
    let image = image
        .context("the encoder gave no answer")?
        .with_context(|| format!("cannot embed {picture}"))?;
    let mut texts = TextEncoder::open(&rt.env, &files, Device::Cpu)?.embed(&[caption.as_str()])?;
    let text = texts.pop().context("the text encoder gave no vector")?;
    // Both are L2-normalised, so their dot product is the cosine CLIP ranks by.
    println!(
        "{} dimensions, cosine {:.4}",
        image.len(),
        dot(&image, &text)
    );
    Ok(())
}
