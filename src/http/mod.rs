//! The HTTP edge shared by every domain: the JSON body extractor, how an `AppError`
//! becomes a response, and the error answers every operation of the OpenAPI document
//! lists. Part of the base: it knows no domain.
pub mod errors;
pub mod export;
pub mod fields;
pub mod json;
pub mod openapi;
pub mod query;
pub mod request_id;

/// The client's address: the peer's, or the last address in `X-Forwarded-For` when the
/// peer is a trusted proxy (`FIVESTAR_TRUSTED_PROXIES`). A client never picks its own.
pub fn client_addr(req: &actix_web::HttpRequest, settings: &crate::config::Settings) -> String {
    let Some(peer) = req.peer_addr().map(|a| a.ip()) else { return "unknown".to_owned() };
    if settings.is_trusted_proxy(&peer) {
        let forwarded = req
            .headers()
            .get("x-forwarded-for")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.rsplit(',').next())
            .and_then(|last| last.trim().parse::<std::net::IpAddr>().ok());
        if let Some(client) = forwarded {
            return client.to_string();
        }
    }
    peer.to_string()
}
