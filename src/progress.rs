//! Progress drawn on the terminal: the engine only reports progress through callbacks, and
//! these turn its reports into indicatif bars on stderr.

use glimpse_clip::DownloadProgress;

/// Ends the bar when the callback is dropped, so an abandoned download does not leave a
/// half-drawn bar on the terminal.
struct BarGuard(indicatif::ProgressBar);

impl Drop for BarGuard {
    fn drop(&mut self) {
        if !self.0.is_finished() {
            self.0.abandon();
        }
    }
}

/// Stderr when it is a terminal, else nowhere (a log file gets no redrawn bars).
fn draw_target() -> indicatif::ProgressDrawTarget {
    use std::io::IsTerminal;
    if std::io::stderr().is_terminal() {
        indicatif::ProgressDrawTarget::stderr()
    } else {
        indicatif::ProgressDrawTarget::hidden()
    }
}

/// A bar labelled `label`, not drawn yet: its first draw comes once the caller has styled it
/// (`set_message` would draw the default style at once, and leave that line on the terminal).
fn new_bar(label: &str) -> indicatif::ProgressBar {
    indicatif::ProgressBar::with_draw_target(None, draw_target()).with_message(label.to_string())
}

fn update_bar(bar: &indicatif::ProgressBar, p: DownloadProgress, styled_for: &mut Option<bool>) {
    let known = p.total.is_some();
    if *styled_for != Some(known) {
        let template = if known {
            "{msg} [{bar:30.cyan/blue}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}"
        } else {
            "{msg} {spinner} {bytes} {bytes_per_sec}"
        };
        let style = indicatif::ProgressStyle::with_template(template)
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> ");
        bar.set_style(style);
        *styled_for = Some(known);
    }
    match p.total {
        Some(t) => bar.set_length(t),
        None => bar.unset_length(),
    }
    bar.set_position(p.done);
    if p.total.is_some_and(|t| p.done >= t) {
        bar.finish();
    }
}

/// A download progress callback that draws a bar on stderr (hidden when stderr is not a
/// terminal). The bar is created on the first update, so a download that does not happen (the
/// file was cached) prints nothing.
pub(crate) fn download_bar(label: impl Into<String>) -> impl FnMut(DownloadProgress) {
    let label = label.into();
    let mut state: Option<(BarGuard, Option<bool>)> = None;
    move |p: DownloadProgress| {
        let (guard, styled_for) = state.get_or_insert_with(|| (BarGuard(new_bar(&label)), None));
        update_bar(&guard.0, p, styled_for);
    }
}

/// A progress callback for multi-file downloads that starts a fresh bar (labelled
/// `<prefix> <file>`) whenever the file changes, so model downloads show one bar per file.
pub(crate) fn download_bars(prefix: impl Into<String>) -> impl FnMut(&str, DownloadProgress) {
    let prefix = prefix.into();
    let mut current: Option<(String, BarGuard, Option<bool>)> = None;
    move |file: &str, p: DownloadProgress| {
        if current.as_ref().is_none_or(|(f, _, _)| f != file) {
            let label = format!("{prefix} {file}");
            current = Some((file.to_string(), BarGuard(new_bar(&label)), None));
        }
        if let Some((_, guard, styled_for)) = current.as_mut() {
            update_bar(&guard.0, p, styled_for);
        }
    }
}

/// The bar of an index job (photos done of photos to do), hidden when `quiet`.
pub(crate) fn index_bar(quiet: bool) -> indicatif::ProgressBar {
    if quiet {
        return indicatif::ProgressBar::hidden();
    }
    let pb = indicatif::ProgressBar::new(0);
    pb.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:30} {pos}/{len} {per_sec} ETA {eta} {wide_msg}",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    pb
}

/// Reports a rebuild of the search index (minutes at a million photos): one line on
/// stderr saying why and that it happens once, then a bar of the photos linked (hidden unless
/// stderr is a terminal); nothing when `quiet`. Opens that rebuild nothing report nothing.
pub(crate) fn rebuild_bar(quiet: bool) -> impl FnMut(glimpse_library::Rebuilding) {
    use glimpse_library::RebuildStage;
    let mut bar: Option<BarGuard> = None;
    move |r: glimpse_library::Rebuilding| {
        if quiet {
            return;
        }
        match r.stage {
            RebuildStage::Reading => eprintln!(
                "rebuilding the search index (it was {}) from the vectors of {} photos in the \
                 catalog; this happens once, and no photo is read again",
                r.why, r.total
            ),
            RebuildStage::Linking => {
                let guard = bar.get_or_insert_with(|| {
                    BarGuard(
                        new_bar("linking").with_style(
                            indicatif::ProgressStyle::with_template(
                                "{msg} [{bar:30}] {pos}/{len} photos, eta {eta}",
                            )
                            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
                        ),
                    )
                });
                guard.0.set_length(r.total as u64);
                guard.0.set_position(r.done as u64);
            }
            RebuildStage::Saving | RebuildStage::Done => {
                if let Some(guard) = bar.take() {
                    guard.0.finish_and_clear();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn download_bars_accept_updates_without_a_terminal() {
        let mut bar = download_bar("test");
        bar(DownloadProgress {
            done: 0,
            total: None,
        });
        bar(DownloadProgress {
            done: 5,
            total: Some(10),
        });
        bar(DownloadProgress {
            done: 10,
            total: Some(10),
        });
        let mut bars = download_bars("model");
        bars(
            "a",
            DownloadProgress {
                done: 1,
                total: None,
            },
        );
        bars(
            "b",
            DownloadProgress {
                done: 1,
                total: Some(2),
            },
        );
    }
}
