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
use std::path::{Component, Path, PathBuf};

use actix_files::NamedFile;
use actix_web::http::header::{self, HeaderValue};
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

async fn serve(
    req: HttpRequest,
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let root = Path::new(&state.settings.web_dir);
    let index = root.join("index.html");
    if !index.is_file() {
        return Ok(not_built(&state.settings.web_dir));
    }
    let Some(relative) = inside(&tail) else { return Err(AppError::NotFound) };
    let file = root.join(&relative);
    if relative.as_os_str().is_empty() || !file.is_file() {
        // `/m/cards/12` is a page of the app; `/m/assets/gone.js` is not.
        if relative.extension().is_some() {
            return Err(AppError::NotFound);
        }
        return send(&req, &index, REVALIDATE).await;
    }
    let cache = if relative.starts_with("assets") { IMMUTABLE } else { REVALIDATE };
    send(&req, &file, cache).await
}

/// The path under the app's folder, or None when it would leave it (`..`, a root, a
/// drive) or names a hidden file (`.vite/manifest.json`).
fn inside(tail: &str) -> Option<PathBuf> {
    let mut out = PathBuf::new();
    for part in Path::new(tail).components() {
        match part {
            Component::Normal(name)
                if !name.to_string_lossy().starts_with('.') && !name.to_string_lossy().contains('\\') =>
            {
                out.push(name)
            }
            Component::CurDir => {}
            _ => return None,
        }
    }
    Some(out)
}

async fn send(req: &HttpRequest, file: &Path, cache: &'static str) -> Result<HttpResponse, AppError> {
    let mime = actix_files::file_extension_to_mime(file.extension().and_then(|e| e.to_str()).unwrap_or(""));
    let gzipped = {
        let mut name = file.as_os_str().to_owned();
        name.push(".gz");
        PathBuf::from(name)
    };
    let use_gzip = accepts_gzip(req) && gzipped.is_file();
    let named = NamedFile::open_async(if use_gzip { &gzipped } else { file })
        .await
        .map_err(|e| AppError::Internal(anyhow::Error::new(e).context(format!("reading {}", file.display()))))?
        .set_content_type(mime.clone())
        .disable_content_disposition();
    let mut res = named.into_response(req);
    let headers = res.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
    headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    if use_gzip {
        headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
    }
    if mime.essence_str() == "text/html" {
        headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CSP));
    }
    Ok(res)
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
