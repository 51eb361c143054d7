//! The `fivestar` binary: parse the command line and hand off.
#[actix_web::main]
async fn main() -> std::process::ExitCode {
    fivestar::cli::run().await
}
