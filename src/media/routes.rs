//! HTTP for photos: the multipart upload (streamed, cut off at 10 MiB) and the signed
//! file URLs.
use actix_multipart::Multipart;
use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use futures_util::TryStreamExt;
use serde::Deserialize;
use utoipa::IntoParams;

use super::service::{self, MediaView, MAX_UPLOAD_BYTES};
use crate::access::extractor::CurrentUser;
use crate::error::{AppError, ErrorBody, ErrorCode, Result};
use crate::http::query::Query;
use crate::state::AppState;

pub fn config(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/media").route(web::post().to(upload)));
}

/// Signed file URLs live outside `/api/v1`: an `<image src>` sends no token.
pub fn files(cfg: &mut web::ServiceConfig) {
    cfg.service(web::resource("/media/{sha}/{variant}").route(web::get().to(file)));
}

/// The form has exactly one field, `file`; any other field is refused with 400.
#[derive(utoipa::ToSchema, Deserialize)]
#[serde(deny_unknown_fields)]
#[allow(dead_code)]
pub struct UploadForm {
    /// A JPEG, PNG or WebP photo, at most 10 MiB.
    #[schema(value_type = String, format = Binary)]
    file: Vec<u8>,
}

/// Upload a photo (multipart field `file`). It is stored re-encoded as JPEG with no EXIF,
/// orientation applied, long side ≤ 2048 px, plus a 320 px thumbnail. The same photo
/// uploaded again by the same person returns the same media.
#[utoipa::path(post, path = "/api/v1/media", tag = "media", security(("bearer" = [])),
    request_body(content = UploadForm, content_type = "multipart/form-data"),
    responses((status = 201, body = MediaView), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody),
        (status = 413, description = "payload_too_large or image_too_large", body = ErrorBody),
        (status = 415, description = "unsupported_media", body = ErrorBody),
        (status = 422, description = "invalid_image", body = ErrorBody)))]
pub async fn upload(
    state: web::Data<AppState>,
    user: CurrentUser,
    req: HttpRequest,
    mut form: Multipart,
) -> Result<HttpResponse> {
    // Bodies are read a bounded number at a time; the rest wait with their bytes unread.
    let _turn = service::upload_turn(&state).await?;
    // The file is nearly the whole body: one buffer of that size, not a doubling series.
    let expected = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<usize>().ok())
        .map_or(0, |len| len.min(MAX_UPLOAD_BYTES));
    let mut file: Option<Vec<u8>> = None;
    while let Some(mut field) =
        form.try_next().await.map_err(|e| AppError::invalid_request(format!("表单格式错误：{e}")))?
    {
        if field.name() != Some("file") || file.is_some() {
            // Read what is left (bounded) so the client gets to read the answer.
            drain(&mut field).await;
            return Err(AppError::invalid_request("表单只能有一个 file 字段"));
        }
        let mut buf = Vec::with_capacity(expected);
        while let Some(chunk) = field.try_next().await.map_err(|e| AppError::invalid_request(format!("{e}")))? {
            if buf.len() + chunk.len() > MAX_UPLOAD_BYTES {
                drop(buf);
                drain(&mut field).await;
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        file = Some(buf);
    }
    let file = file.ok_or_else(|| AppError::invalid_request("缺少 file 字段"))?;
    let media = service::upload(&state, &user.0, file).await?;
    Ok(HttpResponse::Created().json(media))
}

/// Read and drop what is left of a refused field (up to a bound), so the client gets to
/// read the 400 or 413 instead of a reset connection; nothing is kept, so memory stays flat.
async fn drain(field: &mut actix_multipart::Field) {
    let mut left = MAX_UPLOAD_BYTES * 2;
    while let Ok(Some(chunk)) = field.try_next().await {
        left = left.saturating_sub(chunk.len());
        if left == 0 {
            return;
        }
    }
}

fn too_large() -> AppError {
    AppError::PayloadTooLarge { code: ErrorCode::PayloadTooLarge, message: "文件超过 10 MiB" }
}

#[derive(Deserialize, IntoParams)]
pub struct Signed {
    pub exp: i64,
    pub sig: String,
}

/// The image behind a signed URL (`full` or `thumb`).
#[utoipa::path(get, path = "/media/{sha}/{variant}", tag = "media",
    params(("sha" = String, Path), ("variant" = String, Path, description = "full or thumb"), Signed),
    responses((status = 200, description = "image/jpeg", content_type = "image/jpeg"),
        (status = 400, body = ErrorBody), (status = 403, description = "tampered or expired", body = ErrorBody),
        (status = 404, body = ErrorBody)))]
pub async fn file(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    q: Query<Signed>,
) -> Result<HttpResponse> {
    let (sha, variant) = path.into_inner();
    let bytes = service::open(&state, &sha, &variant, q.exp, &q.sig).await?;
    let max_age = (q.exp - state.clock.now().timestamp()).max(0);
    Ok(HttpResponse::Ok()
        .content_type("image/jpeg")
        .insert_header((header::X_CONTENT_TYPE_OPTIONS, "nosniff"))
        .insert_header((header::CACHE_CONTROL, format!("private, max-age={max_age}, immutable")))
        .body(bytes))
}
