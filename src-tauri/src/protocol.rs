//! The `glimpse:` protocol: how the page loads thumbnails and originals. Every request goes
//! through the engine's scope (`glimpse::serve`), so only files inside the photo folders and
//! the thumbnail cache are ever read; anything else is answered 403 without touching it.

use crate::AppState;
use glimpse::serve::{self, ServeError};
use tauri::http::{header, Request, Response, StatusCode};
use tauri::{Manager, UriSchemeContext, UriSchemeResponder, Wry};

/// The scheme name (`convertFileSrc(path, "glimpse")` in the page).
pub const SCHEME: &str = "glimpse";

/// Answers one request off the main thread.
pub fn handle(
    ctx: UriSchemeContext<'_, Wry>,
    request: Request<Vec<u8>>,
    responder: UriSchemeResponder,
) {
    let app = ctx.app_handle().clone();
    std::thread::spawn(move || {
        // The page loads before the setup hook has run only in theory; serve nothing then.
        let scope = match app.try_state::<AppState>() {
            Some(state) => state.session.scope(),
            None => serve::Scope::default(),
        };
        responder.respond(answer(&scope, request.uri().path()));
    });
}

fn answer(scope: &serve::Scope, url_path: &str) -> Response<Vec<u8>> {
    let text = |status: StatusCode, body: String| {
        Response::builder()
            .status(status)
            .header(header::CONTENT_TYPE, "text/plain; charset=utf-8")
            .body(body.into_bytes())
            .unwrap_or_default()
    };
    let Some(requested) = serve::url_path(url_path) else {
        return text(StatusCode::BAD_REQUEST, "malformed path".into());
    };
    let path = match scope.resolve(&requested) {
        Ok(p) => p,
        Err(e) => {
            tracing::warn!("refused {}: {e}", requested.display());
            let status = match e {
                ServeError::Missing(_) => StatusCode::NOT_FOUND,
                ServeError::NotAbsolute(_) => StatusCode::BAD_REQUEST,
                ServeError::Outside(_) | ServeError::NotFile(_) => StatusCode::FORBIDDEN,
            };
            return text(status, e.to_string());
        }
    };
    match std::fs::read(&path) {
        Ok(bytes) => Response::builder()
            .status(StatusCode::OK)
            .header(header::CONTENT_TYPE, serve::mime_type(&path))
            .header(header::CACHE_CONTROL, "no-cache")
            .header("X-Content-Type-Options", "nosniff")
            .body(bytes)
            .unwrap_or_default(),
        Err(e) => text(StatusCode::NOT_FOUND, format!("{}: {e}", path.display())),
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
        std::fs::write(dir.join("secret.txt"), b"secret").unwrap();
        let scope = serve::Scope::new([&root]);
        let enc = |p: &std::path::Path| {
            let s = p.display().to_string();
            format!("/{}", s.replace('%', "%25").replace('/', "%2F"))
        };
        let ok = answer(&scope, &enc(&root.join("a.png")));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.body(), b"png bytes");
        assert_eq!(ok.headers()[header::CONTENT_TYPE], "image/png");
        let out = answer(&scope, &enc(&dir.join("secret.txt")));
        assert_eq!(out.status(), StatusCode::FORBIDDEN);
        let climb = answer(&scope, &enc(&root.join("..").join("secret.txt")));
        assert_eq!(climb.status(), StatusCode::FORBIDDEN);
        assert!(!String::from_utf8_lossy(climb.body()).contains("secret\n"));
        let missing = answer(&scope, &enc(&root.join("b.png")));
        assert_eq!(missing.status(), StatusCode::NOT_FOUND);
        assert_eq!(answer(&scope, "/%zz").status(), StatusCode::BAD_REQUEST);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    fn tempfile_dir() -> std::path::PathBuf {
        let d = std::env::temp_dir().join(format!("glimpse-protocol-{}", std::process::id()));
        std::fs::create_dir_all(&d).unwrap();
        d.canonicalize().unwrap()
    }
}
