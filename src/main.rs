//! The `fivestar` binary: parse the command line and hand off.

/// mimalloc: the request path allocates many small short-lived buffers, where it beats
/// glibc's malloc (measured with `make bench`). Built without transparent huge pages
/// (`no_thp`): with them its arenas are touched 2 MB at a time, and 32 concurrent photo
/// uploads peaked at 240 MB RSS instead of 165 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // Test builds only: arm the crash points named in FAILPOINTS (`infra::pending`).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    fivestar::cli::run().await
}
