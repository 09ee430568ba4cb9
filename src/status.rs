//! `glimpse status`: what the library holds (roots, photos, indexed, failed with reasons,
//! vectors), or every stored embedding.

use anyhow::Result;
use clap::Args;
use glimpse_library::Library;
use std::io::Write;
use std::process::ExitCode;

use crate::Cli;

/// `glimpse status`.
#[derive(Args)]
pub(crate) struct StatusCmd {
    /// The model whose vectors to report (default: the one the library was indexed with).
    #[arg(long, env = "GLIMPSE_MODEL")]
    model: Option<String>,
    /// Machine-readable output.
    #[arg(long)]
    json: bool,
    /// Print every stored embedding as a JSON line `{"path", "embedding"}` instead.
    #[arg(long)]
    dump_embeddings: bool,
    /// Also list every failed or unsupported file with its reason, and every photo whose text
    /// could not be read with why.
    #[arg(long)]
    files: bool,
    /// Also check the catalog's integrity and that no photo was encoded twice (reads the
    /// whole catalog: seconds on a large library).
    #[arg(long)]
    check: bool,
}

/// Prints what the library holds (or dumps its embeddings).
pub(crate) fn run(cli: &Cli, cmd: &StatusCmd) -> Result<ExitCode> {
    let StatusCmd {
        model,
        json,
        dump_embeddings,
        files,
        check,
    } = cmd;
    let dir = cli.library_dir();
    let records = glimpse_library::Records::open(&dir)?;
    let integrity = if *check {
        Some(records.integrity_check()?)
    } else {
        None
    };
    let roots = records.roots()?;
    let formats = records.format_counts()?;
    let (failed_files, noted_files, text_failed) = if *files {
        (
            records.failed_files()?,
            records.noted_files()?,
            records.text_failed_files(glimpse_ocr::OCR_VERSION)?,
        )
    } else {
        (Vec::new(), Vec::new(), Vec::new())
    };
    let provider = records.provider()?;
    let text = records.text_progress(glimpse_ocr::OCR_VERSION)?;
    let read_text = records.read_text()?;
    let auto_tags: Vec<serde_json::Value> = records
        .tag_rules()?
        .into_iter()
        .map(|r| serde_json::json!({"folder": r.folder.to_string_lossy(), "labels": r.labels}))
        .collect();
    // The model the library was last indexed with, as named then (a folder or a name).
    let source = records.remembered_model()?;
    let chosen = status_model(model.as_deref(), source.as_deref(), &records)?;
    drop(records);
    let (stats, vectors, origin, model_name, max_encodes) = match &chosen {
        Some((name, dim)) => {
            let mut rebuilding = crate::progress::rebuild_bar(cli.quiet);
            let lib = Library::open_for_reading_reporting(&dir, name, *dim, &mut rebuilding)?;
            if *dump_embeddings {
                let stdout = std::io::stdout();
                let mut out = stdout.lock();
                for (p, v) in lib.embeddings_with_paths()? {
                    writeln!(
                        out,
                        "{}",
                        serde_json::json!({"path": p.to_string_lossy(), "embedding": v})
                    )?;
                }
                return Ok(ExitCode::SUCCESS);
            }
            let max_encodes = if *check {
                Some(lib.max_encodes()?)
            } else {
                None
            };
            (
                lib.stats()?,
                lib.vector_count(),
                lib.vectors_origin().to_string(),
                Some(name.clone()),
                max_encodes,
            )
        }
        None => (
            Default::default(),
            0,
            "none".to_string(),
            None,
            check.then_some(0),
        ),
    };
    let stats: glimpse_library::catalog::Stats = stats;
    let failures: Vec<serde_json::Value> = stats
        .failures
        .iter()
        .map(|(r, n)| serde_json::json!({"reason": r, "count": n}))
        .collect();
    let notes: Vec<serde_json::Value> = stats
        .notes
        .iter()
        .map(|(r, n)| serde_json::json!({"note": r, "count": n}))
        .collect();
    let info = serde_json::json!({
        "library": dir.to_string_lossy(),
        "integrity": integrity,
        "model": model_name,
        "model_source": source,
        "provider": provider,
        "roots": roots,
        "photos": stats.photos,
        "indexed": stats.indexed,
        "failed": stats.failed,
        "failures": failures,
        "notes": notes,
        "pending": stats.pending,
        "missing": stats.missing,
        "unsupported": stats.unsupported,
        "embeddings": stats.embeddings,
        "vectors": vectors,
        "vectors_origin": origin,
        "max_encodes_per_photo": max_encodes,
        "formats": formats,
        "auto_tags": auto_tags,
        "text": {
            "on": read_text,
            "total": text.total,
            "read": text.read,
            "with_text": text.with_text,
            "failed": text.failed,
        },
    });
    if *json {
        println!("{info}");
        for (p, reason) in &failed_files {
            println!(
                "{}",
                serde_json::json!({"path": p.to_string_lossy(), "reason": reason})
            );
        }
        for (p, note) in &noted_files {
            println!(
                "{}",
                serde_json::json!({"path": p.to_string_lossy(), "note": note})
            );
        }
        for (p, reason) in &text_failed {
            println!(
                "{}",
                serde_json::json!({"path": p.to_string_lossy(), "text_not_read": reason})
            );
        }
    } else {
        match &integrity {
            Some(i) => println!("library: {} (integrity {i})", dir.display()),
            None => println!("library: {}", dir.display()),
        }
        let from = match (&source, &model_name) {
            (Some(s), Some(n)) if s != n => format!(" (from {s})"),
            _ => String::new(),
        };
        println!(
            "model: {}{from} on {}",
            model_name.as_deref().unwrap_or("(none yet)"),
            provider.as_deref().unwrap_or("-")
        );
        for r in &roots {
            println!(
                "root: {}{}",
                r.path.display(),
                if r.online { "" } else { " (offline)" }
            );
        }
        println!(
            "photos: {}  indexed: {}  failed: {}  pending: {}  missing: {}  unsupported: {}  vectors: {}",
            stats.photos, stats.indexed, stats.failed, stats.pending, stats.missing, stats.unsupported, vectors
        );
        for (r, n) in &stats.failures {
            println!("  {n:>6}  {r}");
        }
        println!(
            "text: read in {} of {} photos ({} show text, {} could not be read); reading is {}",
            text.read,
            text.total,
            text.with_text,
            text.failed,
            if read_text { "on" } else { "off" }
        );
        if !stats.notes.is_empty() {
            println!(
                "indexed with a note (a viewer shows them; the picture may not be all there):"
            );
        }
        for (r, n) in &stats.notes {
            println!("  {n:>6}  {r}");
        }
        if !formats.is_empty() {
            println!("formats:");
        }
        for f in &formats {
            let mut parts = vec![format!("{} indexed", f.indexed)];
            for (n, what) in [
                (f.failed, "failed"),
                (f.unsupported, "unsupported by this build"),
                (f.pending, "pending"),
            ] {
                if n > 0 {
                    parts.push(format!("{n} {what}"));
                }
            }
            println!("  {:<6} {}", f.format, parts.join(", "));
        }
        for r in &auto_tags {
            let labels: Vec<&str> = r["labels"]
                .as_array()
                .map(|l| l.iter().filter_map(|l| l.as_str()).collect())
                .unwrap_or_default();
            println!(
                "auto-tags new photos in {}: {}",
                r["folder"].as_str().unwrap_or_default(),
                labels.join(", ")
            );
        }
        for (p, reason) in &failed_files {
            println!("{}: {reason}", p.display());
        }
        for (p, note) in &noted_files {
            println!("{}: indexed, {note}", p.display());
        }
        for (p, reason) in &text_failed {
            println!("{}: text not read: {reason}", p.display());
        }
        if let Some(n) = max_encodes {
            println!(
                "{}",
                if n <= 1 {
                    "no photo was encoded twice".to_string()
                } else {
                    format!("a photo was encoded and committed {n} times")
                }
            );
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// The model whose vectors `status` reports: the one named, else the remembered one, else the
/// last the catalog knows.
fn status_model(
    model: Option<&str>,
    remembered: Option<&str>,
    records: &glimpse_library::Records,
) -> Result<Option<(String, usize)>> {
    let known = records.models()?;
    let Some(m) = model.or(remembered) else {
        return Ok(known.last().cloned());
    };
    let name = std::path::Path::new(m)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| m.to_string());
    Ok(known.into_iter().find(|(n, _)| *n == name))
}
