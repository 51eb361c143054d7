//! `X-Request-Id`: every request gets an id (a valid incoming one is kept, so a proxy's id
//! follows the request through), every response carries it in the header, every error
//! body in `request_id`, and every log line of the request in its span.
use actix_web::body::{self, BoxBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use rand::Rng;

pub const HEADER: HeaderName = HeaderName::from_static("x-request-id");

/// The id of the request being served, in its extensions.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl std::fmt::Display for RequestId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// An incoming id is kept when it is 1–64 characters of letters, digits and `._:-`
/// (anything else could forge log lines or break a header); otherwise one is made.
fn accept(incoming: Option<&HeaderValue>) -> Option<String> {
    let value = incoming?.to_str().ok()?;
    let fits = (1..=64).contains(&value.len())
        && value.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b':' | b'-'));
    fits.then(|| value.to_owned())
}

fn make() -> String {
    let bytes: [u8; 16] = rand::rng().random();
    hex::encode(bytes)
}

/// The outermost middleware: names the request before the log span opens and stamps the
/// id on the way out.
pub async fn stamp(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
    let id = accept(req.headers().get(&HEADER)).unwrap_or_else(make);
    req.extensions_mut().insert(RequestId(id.clone()));
    // Handlers and extractors answer their errors as responses; only a middleware's own
    // failure comes back as Err (none of ours fails), and actix answers that itself.
    let res = next.call(req).await?.map_into_boxed_body();
    let mut res = if is_json_error(&res) { with_id_in_body(res, &id).await } else { res };
    if let Ok(value) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}

fn is_json_error(res: &ServiceResponse<BoxBody>) -> bool {
    let status = res.status();
    (status.is_client_error() || status.is_server_error())
        && res.headers().get(header::CONTENT_TYPE).is_some_and(|v| v.as_bytes().starts_with(b"application/json"))
}

/// Error bodies are small objects made by `ErrorBody`: read, add the id, write again.
async fn with_id_in_body(res: ServiceResponse<BoxBody>, id: &str) -> ServiceResponse<BoxBody> {
    let (req, res) = res.into_parts();
    let (head, body) = res.into_parts();
    let bytes = body::to_bytes(body).await.unwrap_or_default();
    let bytes = match serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(&bytes) {
        Ok(mut map) => {
            map.insert("request_id".to_owned(), id.into());
            serde_json::to_vec(&map).map(Into::into).unwrap_or(bytes)
        }
        Err(_) => bytes,
    };
    let mut head = head.set_body(BoxBody::new(bytes));
    head.headers_mut().remove(header::CONTENT_LENGTH);
    ServiceResponse::new(req, head)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incoming_ids_are_kept_only_when_safe() {
        let ok = HeaderValue::from_static("req-42.a_b:c");
        assert_eq!(accept(Some(&ok)).as_deref(), Some("req-42.a_b:c"));
        for bad in ["", "has space", "quote\"", &"x".repeat(65), "a\tb"] {
            let v = HeaderValue::from_str(bad).unwrap();
            assert_eq!(accept(Some(&v)), None, "{bad:?}");
        }
        assert_eq!(accept(None), None);
        let made = make();
        assert_eq!(made.len(), 32);
        assert_eq!(accept(Some(&HeaderValue::from_str(&made).unwrap())), Some(made.clone()));
        assert_ne!(make(), made);
    }
}
