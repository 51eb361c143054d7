//! The benchmark's yardstick: actix-web with the same worker count as `fivestar serve`,
//! answering `GET /` with a small JSON body and doing nothing else. `make bench` loads it
//! beside the real endpoints so each endpoint's throughput can be read as a share of what
//! this machine's HTTP stack alone can do.
//! Usage: fivestar-minimal 127.0.0.1:PORT
use actix_web::{web, App, HttpResponse, HttpServer};

async fn hello() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"ok": true, "rank": 1, "score": 42}))
}

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:8090".into());
    HttpServer::new(|| App::new().route("/", web::get().to(hello))).bind(bind)?.run().await
}
