//! The `glimpse:` protocol: how the page loads thumbnails and originals. Every request goes
//! through the engine's gate (`Session::served_file`), so only photos the library holds and
//! files in the thumbnail cache are ever read; anything else is answered 403 without touching
//! it. A few worker threads answer in turn (`glimpse_session::serve::Workers`), and no answer holds
//! more than `serve::MAX_SERVED_BYTES`: a larger original is sent as a preview.

use crate::AppState;
use glimpse_session::serve::{self, ServeError, Served};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{AppHandle, Manager, UriSchemeContext, UriSchemeResponder, Wry};

/// The scheme name (`convertFileSrc(path, "glimpse")` in the page).
pub const SCHEME: &str = "glimpse";

/// One request waiting for a worker.
struct Job {
    app: AppHandle,
    path: String,
    responder: UriSchemeResponder,
}

fn workers() -> &'static serve::Workers<Job> {
    static WORKERS: OnceLock<serve::Workers<Job>> = OnceLock::new();
    WORKERS.get_or_init(|| {
        serve::Workers::new(
            "glimpse-serve",
            serve::WORKERS,
            serve::QUEUED,
            |job: Job| {
                let answer = match job.app.try_state::<AppState>() {
                    Some(state) => {
                        let session = state.session.clone();
                        answer(
                            &|p| session.served_file(p),
                            &job.path,
                            serve::MAX_SERVED_BYTES,
                        )
                    }
                    // The page loads before the setup hook has run only in theory; serve nothing.
                    None => text(
                        StatusCode::SERVICE_UNAVAILABLE,
                        "Glimpse is starting".into(),
                    ),
                };
                job.responder.respond(answer);
            },
        )
    })
}

/// Queues one request for the workers, off the main thread; answers 503 at once when too many
/// wait already.
pub fn handle(
    ctx: UriSchemeContext<'_, Wry>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let job = Job {
        app: ctx.app_handle().clone(),
        path: request.uri().path().to_string(),
        responder,
    };
    if let Err(job) = workers().try_submit(job) {
        tracing::warn!("too many pictures asked for at once; refused {}", job.path);
        job.responder.respond(text(
            StatusCode::SERVICE_UNAVAILABLE,
            "too many pictures asked for at once".into(),
        ));
    }
}

fn text(status: StatusCode, body: String) -> Response<Vec<u8>> {
    Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
        .body(body.into_bytes())
        .unwrap_or_default()
}

/// The answer to one `glimpse:` URL path: `gate` says which file (if any) it may read, and at
/// most `cap` bytes of it are sent.
fn answer(
    gate: &dyn Fn(&Path) -> Result<PathBuf, ServeError>,
    url_path: &str,
    cap: u64,
) -> Response<Vec<u8>> {
    let Some(requested) = serve::url_path(url_path) else {
        return text(StatusCode::BAD_REQUEST, "malformed path".into());
    };
    let refused = |e: ServeError| {
        tracing::warn!("refused {}: {e}", requested.display());
        let status = match e {
            ServeError::Missing(_) => StatusCode::NOT_FOUND,
            ServeError::NotAbsolute(_) => StatusCode::BAD_REQUEST,
            ServeError::Unreadable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            ServeError::Outside(_) | ServeError::NotFile(_) | ServeError::NotAPhoto(_) => {
                StatusCode::FORBIDDEN
            }
        };
        text(status, e.to_string())
    };
    let path = match gate(&requested) {
        Ok(p) => p,
        Err(e) => return refused(e),
    };
    match serve::load(&path, cap) {
        Ok(Served {
            bytes,
            mime,
            preview,
        }) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, mime)
            .header(header::CACHE_CONTROL, "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .header("X-Glimpse-Preview", if preview { "1" } else { "0" })
            .body(bytes)
            .unwrap_or_default(),
        Err(e) => refused(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_inside_and_refuses_outside_the_scope() {
        let dir = tempfile_dir();
        let root = dir.join("photos");
        std::fs::create_dir_all(&root).unwrap();
        std::fs::write(root.join("a.png"), b"png bytes").unwrap();
        std::fs::write(root.join("notes.txt"), b"notes").unwrap();
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        let scope = serve::Scope::new([&root]);
        // The session's gate: the scope, and only the files the catalog holds as photos.
        let photo = root.join("a.png");
        let gate = |p: &Path| {
            let real = scope.resolve(p)?;
            if real == photo {
                Ok(real)
            } else {
                Err(ServeError::NotAPhoto(p.display().to_string()))
            }
        };
        let enc = |p: &std::path::Path| {
            let s = p.display().to_string();
            format!("/{}", s.replace('%', "%25").replace('/', "%2F"))
        };
        let cap = serve::MAX_SERVED_BYTES;
        let ok = answer(&gate, &enc(&photo), cap);
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.body(), b"png bytes");
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "image/png");
        let out = answer(&gate, &enc(&dir.join("secret.txt")), cap);
        assert_eq!(out.status(), StatusCode::FORBIDDEN);
        let not_photo = answer(&gate, &enc(&root.join("notes.txt")), cap);
        assert_eq!(not_photo.status(), StatusCode::FORBIDDEN);
        assert!(!String::from_utf8_lossy(not_photo.body()).contains("notes\n"));
        let climb = answer(&gate, &enc(&root.join("..").join("secret.txt")), cap);
        assert_eq!(climb.status(), StatusCode::FORBIDDEN);
        assert!(!String::from_utf8_lossy(climb.body()).contains("secret\n"));
        let missing = answer(&gate, &enc(&root.join("b.png")), cap);
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer(&gate, "/%zz", cap).status(), StatusCode::BAD_REQUEST);
        // Larger than the cap and no picture to preview: refused, never sent whole.
        let too_big = answer(&gate, &enc(&photo), 4);
        assert_eq!(too_big.status(), StatusCode::INTERNAL_SERVER_ERROR);
        assert!(too_big.body().len() < 200);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("glimpse-protocol-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }
}
