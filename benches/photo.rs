//! The photo pipeline on one file, timed: `PHOTO=in.jpg cargo bench --bench photo`.
//! Prints the mean and best wall time of decode + orient + resize to 2048 + 320 px
//! thumbnail + encode both, as `bench/photo.sh` compares with ImageMagick and libvips.
use std::time::Instant;

fn main() {
    let path = std::env::var("PHOTO").expect("PHOTO names a JPEG to process");
    let runs: usize = std::env::var("RUNS").ok().and_then(|r| r.parse().ok()).unwrap_or(10);
    let bytes = std::fs::read(&path).expect("PHOTO is readable");
    let mut times = Vec::with_capacity(runs);
    let mut out = None;
    for _ in 0..runs {
        let started = Instant::now();
        out = Some(fivestar::media::process::process(&bytes).expect("the photo processes"));
        times.push(started.elapsed().as_secs_f64());
    }
    let out = out.expect("at least one run");
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let best = times.iter().cloned().fold(f64::INFINITY, f64::min);
    println!(
        "fivestar: mean {mean:.3} s, best {best:.3} s over {runs} runs; {}x{} ({} bytes) + {}x{} thumbnail",
        out.width,
        out.height,
        out.full.len(),
        out.thumb_width,
        out.thumb_height
    );
}
