//! The phone page: the Vue app in `web/`, built into `FIVESTAR_WEB_DIR` (default `web/dist`,
//! by `scripts/build-web.sh`, which `make run` and `make test` call), served at `/m/`.
//!
//! - Hashed files under `assets/` never change: cached for a year, `immutable`.
//! - `index.html` and the other unhashed files are revalidated on every load (`no-cache`,
//!   with an ETag), so a new build reaches phones on their next visit.
//! - Any other path under `/m/` without a file extension is a page of the app: it gets
//!   `index.html` (the app's router reads the address). A missing file with an extension
//!   is a plain 404, never the page in its place.
//! - The build writes a gzipped copy beside each text file; a browser that takes gzip gets it.
//! - With no build, `/m/` answers a page saying how to make one.
//!
//! Files are answered from memory, each in one write: a file read on the first request is
//! kept with its gzipped copy and ETag (the build is at most a few megabytes). Hashed files
//! never change; any other file is checked against its size and modification time on each
//! request (one `stat`), so a new build is served at once without a restart.
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, LazyLock, RwLock};
use std::time::SystemTime;

use actix_web::http::header::{self, HeaderValue};
use actix_web::web::Bytes;
use actix_web::{web, HttpRequest, HttpResponse};

use crate::error::AppError;
use crate::state::AppState;

const IMMUTABLE: &str = "public, max-age=31536000, immutable";
const REVALIDATE: &str = "no-cache";
/// The app loads only its own files and talks only to this server; Vant sets inline styles.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
                   img-src 'self' data: blob:; font-src 'self' data:; connect-src 'self'; \
                   object-src 'none'; base-uri 'self'; form-action 'self'";

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::redirect("/m", "/m/"))
        .service(web::resource("/m/{tail:.*}").route(web::get().to(serve)).route(web::head().to(serve)));
}

/// One file as it is answered.
struct Kept {
    /// Size and modification time when read: a changed file is read again.
    stamp: (u64, Option<SystemTime>),
    plain: Bytes,
    gzipped: Option<Bytes>,
    /// One tag per representation: the plain file's, and the gzipped copy's.
    etag: HeaderValue,
    etag_gzipped: HeaderValue,
    mime: HeaderValue,
}

/// Every file answered so far, by its path on disk.
static KEPT: LazyLock<RwLock<HashMap<PathBuf, Arc<Kept>>>> = LazyLock::new(Default::default);

async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let root = Path::new(&state.settings.web_dir);
    let Some(relative) = inside(&tail) else { return Err(AppError::NotFound) };
    let hashed = relative.starts_with("assets");
    let (file, cache) = match kept(&root.join(&relative), hashed)? {
        Some(file) => (file, if hashed { IMMUTABLE } else { REVALIDATE }),
        // `/m/cards/12` is a page of the app; `/m/assets/gone.js` is not.
        None if relative.extension().is_some() => return Err(AppError::NotFound),
        None => match kept(&root.join("index.html"), false)? {
            Some(index) => (index, REVALIDATE),
            None => return Ok(not_built(&state.settings.web_dir)),
        },
    };
    let gzipped = file.gzipped.as_ref().filter(|_| accepts_gzip(&req));
    let etag = if gzipped.is_some() { &file.etag_gzipped } else { &file.etag };
    let mut res = HttpResponse::Ok();
    res.insert_header((header::CACHE_CONTROL, cache))
        .insert_header((header::VARY, "accept-encoding"))
        .insert_header((header::ETAG, etag.clone()))
        .insert_header((header::CONTENT_TYPE, file.mime.clone()));
    if file.mime.as_bytes().starts_with(b"text/html") {
        res.insert_header((header::CONTENT_SECURITY_POLICY, CSP));
    }
    let unchanged = req.headers().get(header::IF_NONE_MATCH).is_some_and(|tags| {
        tags.to_str().is_ok_and(|tags| tags.split(',').any(|t| t.trim() == etag || t.trim() == "*"))
    });
    if unchanged {
        return Ok(res.status(actix_web::http::StatusCode::NOT_MODIFIED).finish());
    }
    Ok(match gzipped {
        Some(gzipped) => res.insert_header((header::CONTENT_ENCODING, "gzip")).body(gzipped.clone()),
        None => res.body(file.plain.clone()),
    })
}

/// The file from memory, read (again) when it is new or changed; None when it is not a
/// file. `hashed` files are never checked again: their name changes with their content.
fn kept(path: &Path, hashed: bool) -> Result<Option<Arc<Kept>>, AppError> {
    if hashed {
        if let Some(file) = KEPT.read().unwrap_or_else(|e| e.into_inner()).get(path) {
            return Ok(Some(file.clone()));
        }
    }
    // A stat of a file the kernel has cached: microseconds, not worth a thread hop.
    let Ok(meta) = std::fs::metadata(path) else { return Ok(None) };
    if !meta.is_file() {
        return Ok(None);
    }
    let stamp = (meta.len(), meta.modified().ok());
    if let Some(file) = KEPT.read().unwrap_or_else(|e| e.into_inner()).get(path) {
        if file.stamp == stamp {
            return Ok(Some(file.clone()));
        }
    }
    let read = |p: &Path| std::fs::read(p).map(Bytes::from);
    let plain = read(path)
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context(format!("reading {}", path.display()))))?;
    let mut gz = path.as_os_str().to_owned();
    gz.push(".gz");
    let nanos = stamp.1.and_then(|t| t.duration_since(SystemTime::UNIX_EPOCH).ok()).map_or(0, |d| d.as_nanos());
    let mime = mime_guess::from_path(path).first_or_octet_stream();
    let mime = match mime.type_() {
        mime_guess::mime::TEXT => format!("{mime}; charset=utf-8"),
        _ if mime.subtype() == mime_guess::mime::JAVASCRIPT => "text/javascript; charset=utf-8".to_owned(),
        _ => mime.to_string(),
    };
    let file = Arc::new(Kept {
        stamp,
        plain,
        gzipped: read(Path::new(&gz)).ok(),
        etag: tag(format!("\"{:x}-{nanos:x}\"", stamp.0)),
        etag_gzipped: tag(format!("\"{:x}-{nanos:x}-gz\"", stamp.0)),
        mime: HeaderValue::try_from(mime).unwrap_or_else(|_| HeaderValue::from_static("application/octet-stream")),
    });
    KEPT.write().unwrap_or_else(|e| e.into_inner()).insert(path.to_owned(), file.clone());
    Ok(Some(file))
}

/// An ETag of hex digits in quotes (always a valid header value).
fn tag(value: String) -> HeaderValue {
    HeaderValue::try_from(value).unwrap_or_else(|_| HeaderValue::from_static("\"0\""))
}

/// The path under the app's folder, or None when it would leave it (`..`, a root, a
/// drive) or names a hidden file (`.vite/manifest.json`).
fn inside(tail: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in Path::new(tail).components() {
        match part {
            Component::Normal(name) => {
                let name = name.to_str()?;
                if name.starts_with('.') || name.contains('\\') {
                    return None;
                }
                out.push(name)
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

fn accepts_gzip(req: &HttpRequest) -> bool {
    req.headers().get_all(header::ACCEPT_ENCODING).filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')).any(
        |coding| {
            let mut parts = coding.split(';');
            let name = parts.next().unwrap_or("").trim();
            let refused =
                parts.any(|p| matches!(p.trim().replace(' ', "").as_str(), "q=0" | "q=0.0" | "q=0.00" | "q=0.000"));
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        },
    )
}

fn not_built(dir: &str) -> HttpResponse {
    let dir = html_escape(dir);
    HttpResponse::ServiceUnavailable()
        .insert_header((header::CACHE_CONTROL, REVALIDATE))
        .content_type("text/html; charset=utf-8")
        .body(format!(
            "<!doctype html><html lang=\"zh-CN\"><meta charset=\"utf-8\">\
             <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
             <title>手机页面尚未构建</title>\
             <body style=\"font-family:sans-serif;padding:24px;line-height:1.6\">\
             <h1>手机页面尚未构建</h1>\
             <p>服务器在 <code>{dir}</code> 没有找到 <code>index.html</code>。</p>\
             <p>在源码目录运行 <code>scripts/build-web.sh</code>（<code>make run</code> 会自动运行），\
             或用 <code>FIVESTAR_WEB_DIR</code> 指向构建好的目录，然后刷新本页。</p>\
             <p lang=\"en\">The phone page is not built: run <code>scripts/build-web.sh</code> \
             (needs Node.js 20 and npm), or point <code>FIVESTAR_WEB_DIR</code> at a built \
             <code>dist</code> folder.</p></body></html>"
        ))
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_app() {
        assert_eq!(inside("assets/index-abc.js"), Some(PathBuf::from("assets/index-abc.js")));
        assert_eq!(inside(""), Some(PathBuf::new()));
        assert_eq!(inside("./cards/12"), Some(PathBuf::from("cards/12")));
        assert_eq!(inside("../Cargo.toml"), None);
        assert_eq!(inside("assets/../../x"), None);
        assert_eq!(inside("/etc/passwd"), None);
        assert_eq!(inside(".vite/manifest.json"), None);
        assert_eq!(inside("assets/..\\..\\x"), None);
    }
}
