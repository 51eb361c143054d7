//! Every error leaves as `{code, message}` JSON: `AppError` gets its status and body here,
//! actix's own extractor failures are mapped to `AppError`, and a last middleware rewrites
//! any non-JSON error (unknown route, wrong method) into the same shape.
use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::error::JsonPayloadError;
use actix_web::http::{header, StatusCode};
use actix_web::middleware::Next;
use actix_web::{web, HttpRequest, HttpResponse, ResponseError};

use super::json;
use crate::error::{AppError, ErrorBody, ErrorCode};

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest { .. } | AppError::BadFields { .. } => StatusCode::BAD_REQUEST,
            AppError::Unauthenticated { .. } => StatusCode::UNAUTHORIZED,
            AppError::Forbidden { .. } => StatusCode::FORBIDDEN,
            AppError::NotFound | AppError::Absent { .. } => StatusCode::NOT_FOUND,
            AppError::Conflict { .. } | AppError::InvalidTransition { .. } => StatusCode::CONFLICT,
            AppError::Gone { .. } => StatusCode::GONE,
            AppError::Validation(_) | AppError::Unprocessable { .. } => StatusCode::UNPROCESSABLE_ENTITY,
            AppError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unsupported { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            AppError::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            AppError::BadGateway { .. } => StatusCode::BAD_GATEWAY,
            AppError::Unavailable { .. } => StatusCode::SERVICE_UNAVAILABLE,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let AppError::Internal(cause) = self {
            tracing::error!(error = ?cause, "internal error");
        }
        let mut body = ErrorBody::new(self.code(), self.message());
        match self {
            AppError::Validation(fields) | AppError::BadFields { fields, .. } => body.fields = Some(fields.clone()),
            AppError::Forbidden { required_role, .. } => body.required_role = *required_role,
            AppError::InvalidTransition { status, allowed_actions, .. } => {
                body.status = Some(status.name);
                body.allowed_actions = Some(allowed_actions.iter().map(|a| a.name).collect());
            }
            _ => {}
        }
        let mut resp = HttpResponse::build(self.status_code());
        match self {
            AppError::RateLimited { retry_after_secs } => {
                resp.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            // Every 503 is passing (a rebuild, a restarting database): try again shortly.
            AppError::Unavailable { .. } => {
                resp.insert_header((header::RETRY_AFTER, "2"));
            }
            _ => {}
        }
        resp.json(body)
    }
}

/// Largest JSON body any endpoint accepts.
pub const JSON_LIMIT: usize = 256 * 1024;

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().limit(JSON_LIMIT).error_handler(|err, _req| {
        let app = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                AppError::bad_request(ErrorCode::PayloadTooLarge, "请求体过大")
            }
            JsonPayloadError::ContentType => {
                AppError::bad_request(ErrorCode::UnsupportedMediaType, "请求体须为 application/json")
            }
            JsonPayloadError::Deserialize(e) if e.to_string().starts_with(json::DUPLICATE_KEY) => {
                let key = e.to_string().split('`').nth(1).unwrap_or_default().to_owned();
                AppError::invalid_request(format!("请求体中字段 {key} 出现了两次，请只保留一个"))
            }
            JsonPayloadError::Deserialize(e) if e.is_eof() => {
                AppError::invalid_request("请求体不是完整的 JSON：内容提前结束")
            }
            JsonPayloadError::Deserialize(e) => AppError::invalid_request(format!(
                "请求体不是合法的 JSON：第 {} 行第 {} 列附近有误",
                e.line(),
                e.column()
            )),
            _ => AppError::invalid_request("请求格式错误"),
        };
        let status = match &err {
            JsonPayloadError::Overflow { .. } | JsonPayloadError::OverflowKnownLength { .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            JsonPayloadError::ContentType => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            _ => StatusCode::BAD_REQUEST,
        };
        actix_web::error::InternalError::from_response(err, with_status(app, status)).into()
    })
}

/// A path segment that does not parse (`/orgs/abc`) names nothing: 404.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|_err, _req| AppError::NotFound.into())
}

fn with_status(err: AppError, status: StatusCode) -> HttpResponse {
    let mut resp = err.error_response();
    *resp.status_mut() = status;
    resp
}

/// The default service: unknown routes get a JSON 404.
pub async fn not_found(_req: HttpRequest) -> Result<HttpResponse, AppError> {
    Err(AppError::NotFound)
}

pub async fn json_errors(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let res = next.call(req).await?;
    let status = res.status();
    // A JSON error is ours already; an HTML one is a page written on purpose (the phone
    // page's "not built yet"). Anything else (actix's plain-text errors) becomes JSON.
    let written = res.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        let v = v.as_bytes();
        v.starts_with(b"application/json") || v.starts_with(b"text/html")
    });
    if !(status.is_client_error() || status.is_server_error()) || written {
        return Ok(res.map_into_boxed_body());
    }
    let (code, message) = match status {
        StatusCode::NOT_FOUND => (ErrorCode::NotFound, "资源不存在"),
        StatusCode::METHOD_NOT_ALLOWED => (ErrorCode::MethodNotAllowed, "不支持该请求方法"),
        StatusCode::PAYLOAD_TOO_LARGE => (ErrorCode::PayloadTooLarge, "请求体过大"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => (ErrorCode::UnsupportedMediaType, "不支持的内容类型"),
        StatusCode::UNAUTHORIZED => (ErrorCode::Unauthenticated, "请先登录"),
        StatusCode::FORBIDDEN => (ErrorCode::Forbidden, "没有权限执行此操作"),
        s if s.is_server_error() => (ErrorCode::InternalError, "服务器内部错误"),
        _ => (ErrorCode::InvalidRequest, "请求格式错误"),
    };
    let allow = res.headers().get(header::ALLOW).cloned();
    let (req, _) = res.into_parts();
    let mut builder = HttpResponse::build(status);
    if let Some(allow) = allow {
        builder.insert_header((header::ALLOW, allow));
    }
    let body = ErrorBody::new(code, message);
    Ok(ServiceResponse::new(req, builder.json(body)))
}
