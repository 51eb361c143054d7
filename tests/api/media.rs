//! Photo uploads: formats, limits, EXIF stripping and orientation, thumbnails, signed
//! URLs, de-duplication and ownership.
use std::io::Cursor;

use image::{ImageFormat, Rgb, RgbImage};
use reqwest::multipart::{Form, Part};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{parts, spawn_app, spawn_app_with, Session, TestApp};

/// Left half red, right half blue.
fn two_colour(width: u32, height: u32) -> RgbImage {
    RgbImage::from_fn(width, height, |x, _| if x < width / 2 { Rgb([230, 20, 20]) } else { Rgb([20, 20, 230]) })
}

fn encode(img: &RgbImage, format: ImageFormat) -> Vec<u8> {
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

/// A JPEG with an EXIF block holding an orientation and a GPS latitude reference.
fn jpeg_with_exif(width: u32, height: u32, orientation: u16) -> Vec<u8> {
    let jpeg = encode(&two_colour(width, height), ImageFormat::Jpeg);
    let mut tiff: Vec<u8> = b"II*\0".to_vec();
    tiff.extend(8u32.to_le_bytes());
    // IFD0: Orientation, GPSInfo pointer.
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(0x0112u16.to_le_bytes());
    tiff.extend(3u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(orientation.to_le_bytes());
    tiff.extend([0, 0]);
    tiff.extend(0x8825u16.to_le_bytes());
    tiff.extend(4u16.to_le_bytes());
    tiff.extend(1u32.to_le_bytes());
    tiff.extend(38u32.to_le_bytes());
    tiff.extend(0u32.to_le_bytes());
    // GPS IFD at 38: GPSLatitudeRef = "N".
    tiff.extend(1u16.to_le_bytes());
    tiff.extend(0x0001u16.to_le_bytes());
    tiff.extend(2u16.to_le_bytes());
    tiff.extend(2u32.to_le_bytes());
    tiff.extend(*b"N\0\0\0");
    tiff.extend(0u32.to_le_bytes());
    let mut app1 = vec![0xFF, 0xE1];
    app1.extend(((2 + 6 + tiff.len()) as u16).to_be_bytes());
    app1.extend(b"Exif\0\0");
    app1.extend(tiff);
    let mut out = jpeg[..2].to_vec();
    out.extend(app1);
    out.extend(&jpeg[2..]);
    out
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for b in bytes {
        crc ^= u32::from(*b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
        }
    }
    !crc
}

/// A PNG that claims 20000 × 20000 pixels: what a decompression bomb declares.
fn png_bomb() -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut ihdr = b"IHDR".to_vec();
    ihdr.extend(20_000u32.to_be_bytes());
    ihdr.extend(20_000u32.to_be_bytes());
    ihdr.extend([8, 0, 0, 0, 0]);
    png.extend(13u32.to_be_bytes());
    png.extend(&ihdr);
    png.extend(crc32(&ihdr).to_be_bytes());
    let idat = b"IDAT\x78\x9c\x03\x00\x00\x00\x00\x01";
    png.extend(8u32.to_be_bytes());
    png.extend(idat);
    png.extend(crc32(idat).to_be_bytes());
    png.extend(0u32.to_be_bytes());
    png.extend(b"IEND");
    png.extend(crc32(b"IEND").to_be_bytes());
    png
}

async fn upload(app: &TestApp, user: &Session, bytes: Vec<u8>, name: &str) -> (StatusCode, Value) {
    let form = Form::new().part("file", Part::bytes(bytes).file_name(name.to_owned()));
    let resp = app.client.post(app.url("/api/v1/media")).bearer_auth(&user.token).multipart(form).send().await.unwrap();
    parts(resp).await
}

async fn fetch(app: &TestApp, url: &str) -> reqwest::Response {
    app.client.get(app.url(url)).send().await.unwrap()
}

#[tokio::test]
async fn jpeg_png_and_webp_are_accepted() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-formats").await;
    for (format, name) in [(ImageFormat::Jpeg, "a.jpg"), (ImageFormat::Png, "b.png"), (ImageFormat::WebP, "c.webp")] {
        let (status, body) = upload(&app, &user, encode(&two_colour(64, 48), format), name).await;
        assert_eq!(status, StatusCode::CREATED, "{name}: {body}");
        assert_eq!((body["width"].as_i64(), body["height"].as_i64()), (Some(64), Some(48)));
        assert!(body["bytes"].as_i64().unwrap() > 0);
    }
}

#[tokio::test]
async fn exif_is_stripped_and_orientation_applied_in_the_stored_file() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-exif").await;
    let source = jpeg_with_exif(400, 300, 6);
    assert!(source.windows(4).any(|w| w == b"Exif"));
    let (status, body) = upload(&app, &user, source, "phone.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["width"].as_i64(), body["height"].as_i64()), (Some(300), Some(400)), "rotated 90°");

    let resp = fetch(&app, body["url"].as_str().unwrap()).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert_eq!(resp.headers()["content-type"], "image/jpeg");
    assert_eq!(resp.headers()["x-content-type-options"], "nosniff");
    assert!(resp.headers()["cache-control"].to_str().unwrap().contains("max-age"));
    let stored = resp.bytes().await.unwrap();
    assert!(!stored.windows(4).any(|w| w == b"Exif"), "EXIF (and its GPS block) is gone");
    assert!(!stored.windows(2).any(|w| w == [0xFF, 0xE1]), "no APP1 segment at all");
    let img = image::load_from_memory(&stored).unwrap().to_rgb8();
    assert_eq!(img.dimensions(), (300, 400));
    // Orientation 6 turns the picture a quarter clockwise: the red left half is now on top.
    let top = img.get_pixel(150, 40);
    let bottom = img.get_pixel(150, 360);
    assert!(top[0] > 150 && top[2] < 100, "top is red: {top:?}");
    assert!(bottom[2] > 150 && bottom[0] < 100, "bottom is blue: {bottom:?}");
}

#[tokio::test]
async fn large_photos_are_scaled_and_get_a_320_px_thumbnail() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-thumb").await;
    let (status, body) = upload(&app, &user, encode(&two_colour(3000, 2000), ImageFormat::Jpeg), "big.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!((body["width"].as_i64(), body["height"].as_i64()), (Some(2048), Some(1365)));
    let thumb = fetch(&app, body["thumbnail_url"].as_str().unwrap()).await.bytes().await.unwrap();
    let thumb = image::load_from_memory(&thumb).unwrap();
    assert_eq!((thumb.width(), thumb.height()), (320, 213));
}

#[tokio::test]
async fn what_is_not_an_image_is_refused() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-bad").await;
    let (status, body) = upload(&app, &user, b"just some text, honestly".to_vec(), "photo.jpg").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert_eq!(body["code"], "unsupported_media");
    let gif = b"GIF89a\x01\x00\x01\x00\x00\x00\x00;".to_vec();
    let (status, _) = upload(&app, &user, gif, "a.gif").await;
    assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);

    let jpeg = encode(&two_colour(400, 300), ImageFormat::Jpeg);
    let (status, body) = upload(&app, &user, jpeg[..jpeg.len() / 3].to_vec(), "cut.jpg").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "a truncated JPEG is the client's problem: {body}");
    assert_eq!(body["code"], "invalid_image", "{body}");
}

#[tokio::test]
async fn a_form_with_another_field_than_one_file_is_400() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-form").await;
    let jpeg = || Part::bytes(encode(&two_colour(64, 48), ImageFormat::Jpeg)).file_name("a.jpg");
    let forms = [
        Form::new().text("caption", "hi").part("file", jpeg()),
        Form::new().part("file", jpeg()).part("file", jpeg()),
        Form::new().text("caption", "no file at all"),
    ];
    for form in forms {
        let resp = app.client.post(app.url("/api/v1/media")).bearer_auth(&user.token).multipart(form).send().await;
        let (status, body) = parts(resp.unwrap()).await;
        assert_eq!((status, body["code"].as_str()), (StatusCode::BAD_REQUEST, Some("invalid_request")), "{body}");
    }
    let (status, body) = upload(&app, &user, encode(&two_colour(64, 48), ImageFormat::Jpeg), "ok.jpg").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}

#[tokio::test]
async fn oversized_uploads_and_bombs_are_413() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-big").await;
    let (status, body) = upload(&app, &user, vec![0xAB; 11 * 1024 * 1024], "huge.jpg").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");

    let (status, body) = upload(&app, &user, png_bomb(), "bomb.png").await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{body}");
    assert_eq!(body["code"], "image_too_large");
}

#[tokio::test]
async fn signed_urls_work_until_tampered_or_expired() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-url").await;
    let (_, body) = upload(&app, &user, encode(&two_colour(32, 32), ImageFormat::Png), "a.png").await;
    let url = body["url"].as_str().unwrap().to_owned();
    assert_eq!(fetch(&app, &url).await.status(), StatusCode::OK, "no Authorization header needed");

    let tampered_sig = format!("{}0", &url[..url.len() - 1]);
    let tampered_sig = if tampered_sig == url { format!("{}1", &url[..url.len() - 1]) } else { tampered_sig };
    assert_eq!(fetch(&app, &tampered_sig).await.status(), StatusCode::FORBIDDEN);
    let tampered_exp = url.replace("exp=", "exp=9");
    assert_eq!(fetch(&app, &tampered_exp).await.status(), StatusCode::FORBIDDEN);
    let other_variant = url.replace("/full?", "/thumb?");
    assert_eq!(fetch(&app, &other_variant).await.status(), StatusCode::FORBIDDEN);

    app.clock.advance(chrono::Duration::hours(25));
    let resp = fetch(&app, &url).await;
    assert_eq!(resp.status(), StatusCode::FORBIDDEN, "expired");
    let (_, body) = parts(resp).await;
    assert_eq!(body["code"], "forbidden");
}

#[tokio::test]
async fn the_same_photo_uploaded_twice_is_stored_once() {
    let app = spawn_app().await;
    let user = app.wechat_user("m-dup").await;
    let photo = jpeg_with_exif(200, 100, 1);
    let (s1, first) = upload(&app, &user, photo.clone(), "a.jpg").await;
    let (s2, second) = upload(&app, &user, photo.clone(), "retry.jpg").await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::CREATED));
    assert_eq!(first["id"], second["id"]);
    let other = app.wechat_user("m-dup-2").await;
    let (_, theirs) = upload(&app, &other, photo, "same.jpg").await;
    assert_ne!(theirs["id"], first["id"], "each person owns their own media row");
    let files: Vec<_> = walk(std::path::Path::new(&app.state.settings.media_dir));
    assert_eq!(files.len(), 2, "one full image and one thumbnail on disk: {files:?}");
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[tokio::test]
async fn someone_elses_media_id_is_refused() {
    let app = spawn_app().await;
    let admin = app.super_admin().await;
    let tree = app.tree(&admin).await;
    let owner = app.user_with_role(&admin, "m-owner", tree.branch_a, "resident").await;
    let thief = app.user_with_role(&admin, "m-thief", tree.branch_a, "resident").await;
    let (_, media) = upload(&app, &owner, encode(&two_colour(16, 16), ImageFormat::Png), "a.png").await;
    let id = media["id"].as_i64().unwrap();
    let now = app.clock.now();
    let log = |media_ids: Value| {
        json!({"description": "清理楼道", "star": "eco_livable", "started_at": now - chrono::Duration::hours(2),
               "ended_at": now - chrono::Duration::hours(1), "media_ids": media_ids})
    };
    let (status, body) =
        app.post(&format!("/orgs/{}/volunteer-logs", tree.branch_a), &thief.token, log(json!([id]))).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["fields"]["media_ids"].is_string(), "{body}");
    let (status, body) =
        app.post(&format!("/orgs/{}/volunteer-logs", tree.branch_a), &owner.token, log(json!([id]))).await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
    assert_eq!(body["media_ids"], json!([id]));
}

/// Decodes in flight are bounded: with every decoder busy, an upload waits its turn and,
/// past FIVESTAR_IMAGE_WAIT_SECS, answers 503 `busy` with Retry-After; once one frees up,
/// uploads go on.
#[tokio::test]
async fn an_upload_waits_for_a_decoder_and_is_503_busy_past_the_wait() {
    let app = spawn_app_with(|s| s.image_wait_secs = 1).await;
    let user = app.wechat_user("busy-uploader").await;
    let permits = app.state.image_permits.clone();
    let all = permits.available_permits() as u32;
    let held = permits.acquire_many(all).await.unwrap();
    let png = encode(&two_colour(64, 48), ImageFormat::Png);
    let form =
        reqwest::multipart::Form::new().part("file", reqwest::multipart::Part::bytes(png.clone()).file_name("a.png"));
    let resp = app.client.post(app.url("/api/v1/media")).bearer_auth(&user.token).multipart(form).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(resp.headers().get("retry-after").is_some());
    let (_, body) = parts(resp).await;
    assert_eq!(body["code"], "busy", "{body}");
    drop(held);
    // Bodies are read a bounded number at a time, too: with every turn taken, 503 again.
    let turns = app.state.upload_permits.clone();
    let all = turns.available_permits() as u32;
    let taken = turns.acquire_many(all).await.unwrap();
    let (status, body) = upload(&app, &user, png.clone(), "a.png").await;
    assert_eq!((status, body["code"].as_str()), (StatusCode::SERVICE_UNAVAILABLE, Some("busy")), "{body}");
    drop(taken);
    let (status, body) = upload(&app, &user, png, "a.png").await;
    assert_eq!(status, StatusCode::CREATED, "{body}");
}
