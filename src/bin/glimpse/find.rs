//! The answering commands: `search`, `similar`, `tag`, `tags`, `dupes`. Argument parsing and
//! printing only; the engine's `search`, `tags` and `dupes` modules do the work.

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use glimpse::catalog::{PhotoFilter, PhotoInfo};
use glimpse::encode::{ImageEncoder, TextEncoder};
use glimpse::library::Library;
use glimpse::model::ModelFiles;
use glimpse::search::{self, Page, Request, SearchError, Sort};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::{
    library_dir, library_model, load_runtime, report_image_provider, report_provider, Cli,
    DeviceArg, ModelArg,
};

/// What every answering command may be restricted to.
#[derive(Args, Clone, Default)]
pub struct FilterArgs {
    /// Only photos under this folder.
    #[arg(long)]
    folder: Option<PathBuf>,
    /// Only photos dated on or after this day (YYYY-MM-DD on the clock where they were taken:
    /// the camera's, else this computer's for a file time).
    #[arg(long, value_parser = parse_day)]
    after: Option<i64>,
    /// Only photos dated before this day (YYYY-MM-DD, as for --after).
    #[arg(long, value_parser = parse_day)]
    before: Option<i64>,
    /// Only photos with this tag (see `glimpse tags`).
    #[arg(long)]
    tag: Option<String>,
    /// Only these file types, comma-separated (jpeg, png, webp, gif, bmp, tiff, heic, avif, jxl,
    /// raw for every camera RAW, or one RAW kind: cr2, cr3, nef, arw, dng, raf, orf, rw2).
    #[arg(long = "type", value_delimiter = ',')]
    types: Vec<String>,
    /// Only photos with a GPS position.
    #[arg(long, conflicts_with = "no_location")]
    has_location: bool,
    /// Only photos without a GPS position.
    #[arg(long)]
    no_location: bool,
}

impl FilterArgs {
    fn filter(&self) -> PhotoFilter {
        PhotoFilter {
            folder: self
                .folder
                .as_ref()
                .map(|f| f.canonicalize().unwrap_or_else(|_| f.clone())),
            after: self.after,
            before: self.before,
            formats: PhotoFilter::formats_named(&self.types),
            tag: self.tag.clone(),
            has_location: match (self.has_location, self.no_location) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
        }
    }
}

/// How results are printed.
#[derive(Args, Clone, Default)]
pub struct OutputArgs {
    /// One JSON object per result (at least `path` and `score`).
    #[arg(long, conflicts_with_all = ["paths", "print0"])]
    json: bool,
    /// Bare paths, one per line, for pipes.
    #[arg(long, conflicts_with = "print0")]
    paths: bool,
    /// Bare paths separated by NUL bytes (for `xargs -0`).
    #[arg(short = '0', long = "print0")]
    print0: bool,
}

/// Result order.
#[derive(Clone, Copy, ValueEnum, Default)]
pub enum SortArg {
    /// Best match first.
    #[default]
    Score,
    /// Newest first.
    Newest,
    /// Oldest first.
    Oldest,
}

/// Paging and order of a result list.
#[derive(Args, Clone)]
pub struct PageArgs {
    /// Results per page.
    #[arg(long, short = 'n', default_value_t = 20)]
    limit: usize,
    /// Which page (1 = the best results).
    #[arg(long, default_value_t = 1)]
    page: usize,
    /// Result order.
    #[arg(long, value_enum, default_value = "score")]
    sort: SortArg,
}

/// What `search` and `similar` share: the model, where it runs, paging, filters, output.
#[derive(Args)]
pub struct QueryArgs {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    device: DeviceArg,
    #[command(flatten)]
    paging: PageArgs,
    #[command(flatten)]
    filters: FilterArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// `glimpse search`.
#[derive(Args)]
pub struct SearchCmd {
    /// What to find, e.g. "dog asleep on a red sofa"; `-word` or `-"a phrase"` pushes away.
    #[arg(allow_hyphen_values = true)]
    query: String,
    /// Combine with an example picture ("this photo + at night").
    #[arg(long)]
    like: Option<PathBuf>,
    /// Also show weak matches (below the model's relevance floor).
    #[arg(long)]
    weak: bool,
    #[command(flatten)]
    common: QueryArgs,
}

/// `glimpse similar`.
#[derive(Args)]
pub struct SimilarCmd {
    /// A photo of the library, or any picture file.
    path: PathBuf,
    /// Also show photos below the model's floor for "like this" (when it ships one).
    #[arg(long)]
    weak: bool,
    #[command(flatten)]
    common: QueryArgs,
}

/// `glimpse list`.
#[derive(Args)]
pub struct ListCmd {
    #[command(flatten)]
    model: ModelArg,
    // `--sort score` (the default) lists newest first: there is no query to score against.
    #[command(flatten)]
    paging: PageArgs,
    #[command(flatten)]
    filters: FilterArgs,
    #[command(flatten)]
    out: OutputArgs,
}

/// `glimpse tag`.
#[derive(Args)]
pub struct TagCmd {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    device: DeviceArg,
    /// The folder whose photos to tag (with its subfolders).
    folder: PathBuf,
    /// Labels, comma-separated (default: the built-in vocabulary plus your earlier labels).
    #[arg(long, value_delimiter = ',', conflicts_with = "labels_file")]
    labels: Vec<String>,
    /// A file with one label per line.
    #[arg(long)]
    labels_file: Option<PathBuf>,
    /// Smallest label probability that becomes a tag.
    #[arg(long, default_value_t = glimpse::tags::DEFAULT_THRESHOLD)]
    threshold: f32,
    /// One JSON object per photo: `{"path", "tags": [{"label", "score"}]}`.
    #[arg(long)]
    json: bool,
    /// Stop tagging the photos that arrive in the folder (and its subfolders) later; the
    /// tags given so far stay.
    #[arg(long, conflicts_with_all = ["labels", "labels_file", "json"])]
    stop: bool,
}

/// `glimpse dupes`.
#[derive(Args)]
pub struct DupesCmd {
    #[command(flatten)]
    model: ModelArg,
    #[command(flatten)]
    filters: FilterArgs,
    /// One JSON object per group: `{"keeper", "photos": [{"path", "score", ...}]}`.
    #[arg(long)]
    json: bool,
}

fn parse_day(s: &str) -> Result<i64, String> {
    glimpse::calendar::parse_day(s).ok_or_else(|| format!("{s:?} is not a date like 2024-06-30"))
}

/// The library as indexed with `files`' model (its vector width comes from the catalog).
fn open_library(cli: &Cli, files: &ModelFiles) -> Result<Library> {
    let dir = library_dir(cli);
    let catalog = glimpse::catalog::Catalog::open(&dir)
        .with_context(|| format!("cannot open library {}", dir.display()))?;
    let Some((_, dim)) = catalog
        .models()?
        .into_iter()
        .find(|(n, _)| *n == files.name)
    else {
        bail!(
            "no photos are indexed with model {} in {} yet: run `glimpse index --model {} <folder>` first",
            files.name,
            dir.display(),
            files.dir.display()
        );
    };
    drop(catalog);
    Library::open_for_reading(&dir, &files.name, dim)
        .with_context(|| format!("cannot open library {}", dir.display()))
}

fn open_text(cli: &Cli, files: &ModelFiles, device: &DeviceArg) -> Result<TextEncoder> {
    let rt = load_runtime(cli)?;
    let enc = TextEncoder::open_with(&rt.env, files, &device.options())?;
    report_provider(cli, "text", &enc.selection);
    Ok(enc)
}

fn open_image(cli: &Cli, files: &ModelFiles, device: &DeviceArg) -> Result<ImageEncoder> {
    let rt = load_runtime(cli)?;
    let enc = ImageEncoder::open_with(&rt.env, files, &device.options())?;
    report_image_provider(cli, &enc);
    Ok(enc)
}

/// An example picture's vector, opening the image encoder only when no stored vector serves.
fn example_of(
    cli: &Cli,
    files: &ModelFiles,
    device: &DeviceArg,
    lib: &Library,
    path: &Path,
) -> Result<search::Example> {
    match search::example(lib, None, path) {
        Err(SearchError::NeedsEncoder(_)) => {
            let enc = open_image(cli, files, device)?;
            Ok(search::example(lib, Some(&enc), path)?)
        }
        other => Ok(other?),
    }
}

fn request(paging: &PageArgs, filters: &FilterArgs) -> Request {
    let limit = paging.limit.max(1);
    Request {
        limit,
        offset: paging.page.max(1).saturating_sub(1) * limit,
        filter: filters.filter(),
        sort: match paging.sort {
            SortArg::Score => Sort::Score,
            SortArg::Newest => Sort::Newest,
            SortArg::Oldest => Sort::Oldest,
        },
        ..Request::new(limit)
    }
}

fn print_page(cli: &Cli, page: &Page, paging: &PageArgs, out: &OutputArgs) -> Result<()> {
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for h in &page.hits {
        if out.json {
            writeln!(w, "{}", serde_json::to_string(h)?)?;
        } else if out.print0 {
            write_path(&mut w, &h.photo.path)?;
            w.write_all(b"\0")?;
        } else if out.paths {
            write_path(&mut w, &h.photo.path)?;
            w.write_all(b"\n")?;
        } else {
            let tags = if h.tags.is_empty() {
                String::new()
            } else {
                format!("  [{}]", h.tags.join(", "))
            };
            writeln!(
                w,
                "{}  {}  {}{tags}",
                h.score
                    .map_or_else(|| "    -".to_string(), |s| format!("{s:.3}")),
                glimpse::calendar::format_day(h.photo.local_date),
                h.photo.path.display()
            )?;
        }
    }
    w.flush()?;
    if !cli.quiet && !out.json && !out.paths && !out.print0 {
        if page.hits.is_empty() {
            eprintln!("glimpse: no matches");
        }
        if page.has_more {
            eprintln!("glimpse: more results: --page {}", paging.page.max(1) + 1);
        }
        if page.weaker_hidden {
            eprintln!("glimpse: weaker matches hidden: add --weak to show them");
        }
    }
    Ok(())
}

/// Writes a path as its bytes (non-UTF-8 names survive the pipe).
fn write_path(w: &mut impl Write, p: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::ffi::OsStrExt;
        w.write_all(p.as_os_str().as_bytes())
    }
    #[cfg(not(unix))]
    {
        w.write_all(p.to_string_lossy().as_bytes())
    }
}

pub(crate) fn search(cli: &Cli, cmd: &SearchCmd) -> Result<ExitCode> {
    let c = &cmd.common;
    let (files, _) = library_model(cli, &c.model)?;
    let lib = open_library(cli, &files)?;
    let text = open_text(cli, &files, &c.device)?;
    let parsed = search::parse(&cmd.query);
    let mut req = request(&c.paging, &c.filters);
    let mut examples = Vec::new();
    if let Some(p) = &cmd.like {
        let ex = example_of(cli, &files, &c.device, &lib, p)?;
        req.exclude.extend(ex.photo_id);
        examples.push(ex.vector);
    }
    let q = search::text_query_vector(&text, &parsed, &examples)?;
    req.include_weak = cmd.weak;
    if !parsed.text.is_empty() || !parsed.minus.is_empty() {
        req.floor = Some(files.calibration.relevance_floor);
        req.breadth = search::TEXT_BREADTH;
    } else {
        // A picture alone: scores are image-to-image cosines, with their own floor.
        req.floor = files.calibration.similar_floor;
    }
    let page = search::nearest(&lib, &q, &req)?;
    print_page(cli, &page, &c.paging, &c.out)?;
    let cut = std::iter::once(&parsed.text)
        .chain(&parsed.minus)
        .any(|t| text.tokenizer().encode(t).is_ok_and(|t| t.cut));
    if cut && !cli.quiet {
        eprintln!(
            "glimpse: the query is longer than the model reads ({} tokens, some 60 words): \
             only its start was searched for",
            text.tokenizer().context_length()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn list(cli: &Cli, cmd: &ListCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let lib = open_library(cli, &files)?;
    let page = search::browse(&lib, &request(&cmd.paging, &cmd.filters))?;
    print_page(cli, &page, &cmd.paging, &cmd.out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn similar(cli: &Cli, cmd: &SimilarCmd) -> Result<ExitCode> {
    let c = &cmd.common;
    let (files, _) = library_model(cli, &c.model)?;
    let lib = open_library(cli, &files)?;
    let ex = example_of(cli, &files, &c.device, &lib, &cmd.path)?;
    let mut req = request(&c.paging, &c.filters);
    req.exclude.extend(ex.photo_id);
    req.floor = files.calibration.similar_floor;
    req.include_weak = cmd.weak;
    let page = search::nearest(&lib, &glimpse::embedding::unit(ex.vector), &req)?;
    print_page(cli, &page, &c.paging, &c.out)?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tag(cli: &Cli, cmd: &TagCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let mut lib = open_library(cli, &files)?;
    let folder = cmd
        .folder
        .canonicalize()
        .unwrap_or_else(|_| cmd.folder.clone());
    if cmd.stop {
        let n = lib.catalog.forget_tag_rules(&folder)?;
        if !cli.quiet {
            if n == 0 {
                eprintln!("glimpse: {} was not auto-tagged", folder.display());
            } else {
                eprintln!(
                    "glimpse: photos that arrive in {} are no longer auto-tagged (its tags stay)",
                    folder.display()
                );
            }
        }
        return Ok(ExitCode::SUCCESS);
    }
    let labels: Vec<String> = if let Some(f) = &cmd.labels_file {
        std::fs::read_to_string(f)
            .with_context(|| format!("cannot read labels from {}", f.display()))?
            .lines()
            .map(|l| l.split('#').next().unwrap_or("").to_string())
            .collect()
    } else if !cmd.labels.is_empty() {
        cmd.labels.clone()
    } else {
        glimpse::tags::default_labels(&lib)?
    };
    let mut text: Option<TextEncoder> = None;
    let mut embed = |texts: &[String]| -> std::result::Result<Vec<Vec<f32>>, String> {
        if text.is_none() {
            text = Some(open_text(cli, &files, &cmd.device).map_err(|e| format!("{e:#}"))?);
        }
        let enc = text.as_ref().ok_or("no text encoder")?;
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        enc.embed(&refs).map_err(|e| e.to_string())
    };
    let opts = glimpse::tags::TagOptions {
        threshold: cmd.threshold,
        min_cosine: files.calibration.relevance_floor,
    };
    let report = glimpse::tags::tag_folder(&mut lib, &folder, &labels, &opts, &mut embed)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    if cmd.json {
        for (info, tags) in &report.per_photo {
            let tags: Vec<serde_json::Value> = tags
                .iter()
                .map(|(l, s)| serde_json::json!({"label": l, "score": s}))
                .collect();
            writeln!(
                w,
                "{}",
                serde_json::json!({"path": info.path.to_string_lossy(), "tags": tags})
            )?;
        }
    } else {
        for (label, n) in report.counts.iter().filter(|c| c.1 > 0) {
            writeln!(w, "{n:>7}  {label}")?;
        }
    }
    if !cli.quiet {
        eprintln!(
            "glimpse: tagged {} of {} photos ({} labels, {} newly embedded; no photo re-encoded)",
            report.tagged,
            report.photos,
            report.counts.len(),
            report.labels_embedded
        );
        eprintln!(
            "glimpse: photos that arrive in {} later get these labels too (`glimpse tag --stop` \
             ends that)",
            folder.display()
        );
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn tags(cli: &Cli, json: bool) -> Result<ExitCode> {
    let catalog = glimpse::catalog::Catalog::open(&library_dir(cli))?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    for (label, n) in catalog.tag_counts()? {
        if json {
            writeln!(w, "{}", serde_json::json!({"tag": label, "photos": n}))?;
        } else {
            writeln!(w, "{n:>7}  {label}")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn dupes(cli: &Cli, cmd: &DupesCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let lib = open_library(cli, &files)?;
    let opts = glimpse::dupes::DupeOptions::with_cosine(files.calibration.duplicate_cosine);
    let groups = glimpse::dupes::find(&lib, &cmd.filters.filter(), &opts)?;
    let stdout = std::io::stdout();
    let mut w = stdout.lock();
    let size = |p: &PhotoInfo| match (p.width, p.height) {
        (Some(a), Some(b)) => format!("{a}x{b}"),
        _ => "?".into(),
    };
    for g in &groups {
        if cmd.json {
            writeln!(w, "{}", serde_json::to_string(g)?)?;
            continue;
        }
        writeln!(w, "{} copies, keep {}", g.photos.len(), g.keeper.display())?;
        for m in &g.photos {
            writeln!(
                w,
                "  {:.3}  {:>11}  {:>9}  {}",
                m.score,
                size(&m.photo),
                m.photo.size,
                m.photo.path.display()
            )?;
        }
    }
    if !cli.quiet && !cmd.json {
        eprintln!("glimpse: {} groups of copies", groups.len());
    }
    Ok(ExitCode::SUCCESS)
}
