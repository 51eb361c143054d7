//! The `fivestar` binary: parse the command line and hand off.

/// mimalloc: the request path allocates many small short-lived buffers, where it beats
/// glibc's malloc (measured with `make bench`). Its v2 line, without transparent huge pages
/// (Cargo.toml): v3 keeps freed memory 1 s before giving it back (v2: 10 ms), and with
/// huge pages its arenas are touched 2 MB at a time. Peak RSS during 32 concurrent 12 MP
/// uploads on their own: v3 with huge pages 240-280 MB, v3 without 163-168 MB, v2 without
/// 152-153 MB.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[actix_web::main]
async fn main() -> std::process::ExitCode {
    // Test builds only: arm the crash points named in FAILPOINTS (`infra::pending`).
    #[cfg(feature = "failpoints")]
    let _failpoints = fail::FailScenario::setup();
    fivestar::cli::run().await
}
