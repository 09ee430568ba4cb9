//! The finding commands: `search`, `similar`, `list`, and the filters, paging and output the
//! answering commands share. Argument parsing and printing only; the engine's `search` module
//! does the work.

use anyhow::Result;
use clap::{Args, ValueEnum};
use glimpse_clip::model::ModelFiles;
use glimpse_library::catalog::PhotoFilter;
use glimpse_library::Library;
use glimpse_query::search::{self, Page, Request, SearchError, Sort};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use crate::args::{DeviceArg, ModelArg};
use crate::common::{library_model, open_image, open_library, open_text};
use crate::Cli;

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
    /// Only photos in which text was read (see `glimpse status`).
    #[arg(long, conflicts_with = "no_text")]
    has_text: bool,
    /// Only photos in which no text was read.
    #[arg(long)]
    no_text: bool,
}

impl FilterArgs {
    pub(crate) fn filter(&self) -> PhotoFilter {
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
            has_text: match (self.has_text, self.no_text) {
                (true, _) => Some(true),
                (_, true) => Some(false),
                _ => None,
            },
            words: Vec::new(),
            without_words: Vec::new(),
        }
    }
}

/// How results are printed.
#[derive(Args, Clone, Default)]
pub struct OutputArgs {
    /// One JSON object per result (at least `path` and `score`; `words`, the lines of its
    /// text that matched, when it matched by the words in the picture).
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
    /// Photos whose text shows the words rank among the best; `"quoted text"` must be shown.
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

fn parse_day(s: &str) -> Result<i64, String> {
    glimpse_clip::calendar::parse_day(s)
        .ok_or_else(|| format!("{s:?} is not a date like 2024-06-30"))
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
            let enc = open_image(cli, files, device, None)?;
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
                "{}  {}  {}{tags}{}",
                h.score
                    .map_or_else(|| "    -".to_string(), |s| format!("{s:.3}")),
                glimpse_clip::calendar::format_day(h.photo.local_date),
                h.photo.path.display(),
                shown_words(&h.words),
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

/// Lines of text the query's words matched, as a result line ends with them: each line in
/// quotes with the matched words in brackets (`  text: "[TESCO] Express"`), at most three.
fn shown_words(words: &[search::LineMatch]) -> String {
    const SHOWN: usize = 3;
    if words.is_empty() {
        return String::new();
    }
    let lines: Vec<String> = words
        .iter()
        .take(SHOWN)
        .map(|m| {
            let mut out = String::from("\"");
            let mut at = 0;
            for &(a, b) in &m.spans {
                // Spans are the engine's byte ranges of this text; one that is not is skipped.
                let (Some(before), Some(word)) = (m.text.get(at..a), m.text.get(a..b)) else {
                    continue;
                };
                out.push_str(before);
                out.push('[');
                out.push_str(word);
                out.push(']');
                at = b;
            }
            out.push_str(m.text.get(at..).unwrap_or_default());
            out.push('"');
            out
        })
        .collect();
    let more = match words.len().saturating_sub(SHOWN) {
        0 => String::new(),
        n => format!(" (+{n} more)"),
    };
    format!("  text: {}{more}", lines.join(" "))
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

/// Prints the page of photos matching a description (and an example picture).
pub(crate) fn search(cli: &Cli, cmd: &SearchCmd) -> Result<ExitCode> {
    let c = &cmd.common;
    let (files, _) = library_model(cli, &c.model)?;
    let mut lib = open_library(cli, &files)?;
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
    req.words = parsed.words();
    if !parsed.text.is_empty() || !parsed.minus.is_empty() {
        req.floor = Some(files.calibration.relevance_floor);
        search::for_caption(&mut lib, &mut req, || {
            search::caption_direction(&mut |t: &[&str]| {
                text.embed(t).map_err(search::TowerError::from)
            })
        })?;
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

/// Prints the page of photos passing the filters, by date.
pub(crate) fn list(cli: &Cli, cmd: &ListCmd) -> Result<ExitCode> {
    let (files, _) = library_model(cli, &cmd.model)?;
    let lib = open_library(cli, &files)?;
    let page = search::browse(&lib, &request(&cmd.paging, &cmd.filters))?;
    print_page(cli, &page, &cmd.paging, &cmd.out)?;
    Ok(ExitCode::SUCCESS)
}

/// Prints the page of photos nearest to an example picture.
pub(crate) fn similar(cli: &Cli, cmd: &SimilarCmd) -> Result<ExitCode> {
    let c = &cmd.common;
    let (files, _) = library_model(cli, &c.model)?;
    let lib = open_library(cli, &files)?;
    let ex = example_of(cli, &files, &c.device, &lib, &cmd.path)?;
    let mut req = request(&c.paging, &c.filters);
    req.exclude.extend(ex.photo_id);
    req.floor = files.calibration.similar_floor;
    req.include_weak = cmd.weak;
    let page = search::nearest(&lib, &glimpse_clip::embedding::unit(ex.vector), &req)?;
    print_page(cli, &page, &c.paging, &c.out)?;
    Ok(ExitCode::SUCCESS)
}
