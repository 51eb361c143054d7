//! The image pipeline, pure and synchronous (run it on a blocking thread): detect the
//! format from the bytes, check the size from the header before decoding, decode within
//! limits, resize (fast_image_resize), apply the EXIF orientation, and re-encode as JPEG
//! with no metadata at all.
//!
//! Why JPEG: every WeChat client renders it in `<image>`, and a SIMD JPEG encoder is far
//! faster than any pure-Rust lossy WebP encoder, which matters on a phone's critical path.
use std::io::Cursor;

use fast_image_resize::images::{Image, ImageRef};
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use image::metadata::Orientation;
use image::{DynamicImage, ImageDecoder, ImageError, ImageFormat, ImageReader, Limits, RgbImage};

pub const MAX_PIXELS: u64 = 40_000_000;
pub const FULL_SIDE: u32 = 2048;
pub const THUMB_SIDE: u32 = 320;
const QUALITY: u8 = 85;
const MAX_ALLOC: u64 = 512 * 1024 * 1024;

#[derive(Debug, PartialEq, Eq)]
pub enum ProcessError {
    /// Not JPEG, PNG or WebP.
    Unsupported,
    /// Over 40 megapixels, or over the decoder's allocation limit (a bomb).
    TooLarge,
    /// Truncated or corrupt.
    Corrupt,
}

pub struct Processed {
    pub full: Vec<u8>,
    pub width: u32,
    pub height: u32,
    pub thumb: Vec<u8>,
    pub thumb_width: u32,
    pub thumb_height: u32,
}

/// The format, judged from the bytes alone (never the file name).
pub fn detect(bytes: &[u8]) -> Option<ImageFormat> {
    match image::guess_format(bytes).ok()? {
        f @ (ImageFormat::Jpeg | ImageFormat::Png | ImageFormat::WebP) => Some(f),
        _ => None,
    }
}

fn map_err(err: ImageError) -> ProcessError {
    match err {
        ImageError::Limits(_) => ProcessError::TooLarge,
        ImageError::Unsupported(_) => ProcessError::Unsupported,
        _ => ProcessError::Corrupt,
    }
}

/// Long side at most `side`, keeping the aspect ratio; never enlarges.
fn fit(width: u32, height: u32, side: u32) -> (u32, u32) {
    let long = width.max(height);
    if long <= side {
        return (width, height);
    }
    let scale = side as f64 / long as f64;
    (((width as f64 * scale).round() as u32).max(1), ((height as f64 * scale).round() as u32).max(1))
}

/// `src` with its long side at most `side`; None when it already fits.
fn resize(src: &RgbImage, side: u32) -> Result<Option<RgbImage>, ProcessError> {
    let (w, h) = src.dimensions();
    let (tw, th) = fit(w, h, side);
    if (tw, th) == (w, h) {
        return Ok(None);
    }
    let src = ImageRef::new(w, h, src.as_raw(), PixelType::U8x3).map_err(|_| ProcessError::Corrupt)?;
    let mut dst = Image::new(tw, th, PixelType::U8x3);
    let options = ResizeOptions::new().resize_alg(ResizeAlg::Convolution(FilterType::Bilinear));
    Resizer::new().resize(&src, &mut dst, &options).map_err(|_| ProcessError::Corrupt)?;
    RgbImage::from_raw(tw, th, dst.into_vec()).map(Some).ok_or(ProcessError::Corrupt)
}

fn encode(img: &RgbImage) -> Result<Vec<u8>, ProcessError> {
    let mut out = Vec::with_capacity(img.as_raw().len() / 8);
    let encoder = jpeg_encoder::Encoder::new(&mut out, QUALITY);
    let (w, h) = (u16::try_from(img.width()), u16::try_from(img.height()));
    let (Ok(w), Ok(h)) = (w, h) else { return Err(ProcessError::TooLarge) };
    encoder.encode(img.as_raw(), w, h, jpeg_encoder::ColorType::Rgb).map_err(|_| ProcessError::Corrupt)?;
    Ok(out)
}

/// A whole JPEG has an end-of-image marker after its start of scan. (Scan data stuffs every
/// 0xFF byte, so `FF D9` cannot occur inside it.) The decoder pads a truncated scan with
/// grey instead of failing, so this is checked before decoding.
fn jpeg_is_complete(bytes: &[u8]) -> bool {
    let Some(sos) = bytes.windows(2).position(|w| w == [0xFF, 0xDA]) else { return false };
    bytes[sos..].windows(2).any(|w| w == [0xFF, 0xD9])
}

/// A JPEG decoded at a DCT reduction keeps a long side of at least this: 1/16 under
/// `FULL_SIDE`, so that a 12 MP phone photo (4000 px) is decoded at 1/2, straight to 2000 px,
/// with a quarter of the memory and no resize, instead of at full size to lose 2 % of it.
const MIN_REDUCED_SIDE: u32 = FULL_SIDE / 16 * 15;

/// The DCT reduction a JPEG of this long side is decoded at (1, 2, 4 or 8): the largest
/// that leaves the long side at least `MIN_REDUCED_SIDE` (libvips' shrink-on-load, with a
/// little slack). The result is resized to `FULL_SIDE` only when still larger.
fn shrink_on_load(long_side: u32) -> u32 {
    [8, 4, 2].into_iter().find(|d| long_side.div_ceil(*d) >= MIN_REDUCED_SIDE).unwrap_or(1)
}

/// A large JPEG decoded at a DCT-reduced size, with its EXIF orientation. None when this
/// decoder cannot do it (CMYK, 16-bit, a form it does not know): the general path does.
fn decode_jpeg_reduced(bytes: &[u8], w: u32, h: u32) -> Option<(RgbImage, Orientation)> {
    let d = shrink_on_load(w.max(h));
    if d == 1 {
        return None;
    }
    let mut decoder = jpeg_decoder::Decoder::new(Cursor::new(bytes));
    let (rw, rh) = (u16::try_from(w.div_ceil(d)).ok()?, u16::try_from(h.div_ceil(d)).ok()?);
    let (sw, sh) = decoder.scale(rw, rh).ok()?;
    let pixels = decoder.decode().ok()?;
    let format = decoder.info()?.pixel_format;
    let rgb = match format {
        jpeg_decoder::PixelFormat::RGB24 => RgbImage::from_raw(u32::from(sw), u32::from(sh), pixels)?,
        jpeg_decoder::PixelFormat::L8 => {
            let grey = image::GrayImage::from_raw(u32::from(sw), u32::from(sh), pixels)?;
            DynamicImage::ImageLuma8(grey).into_rgb8()
        }
        _ => return None,
    };
    let orientation = decoder.exif_data().and_then(Orientation::from_exif_chunk).unwrap_or(Orientation::NoTransforms);
    Some((rgb, orientation))
}

pub fn process(bytes: &[u8]) -> Result<Processed, ProcessError> {
    let format = detect(bytes).ok_or(ProcessError::Unsupported)?;
    if format == ImageFormat::Jpeg && !jpeg_is_complete(bytes) {
        return Err(ProcessError::Corrupt);
    }
    let (w, h) = ImageReader::with_format(Cursor::new(bytes), format).into_dimensions().map_err(map_err)?;
    if u64::from(w) * u64::from(h) > MAX_PIXELS {
        return Err(ProcessError::TooLarge);
    }
    let reduced = if format == ImageFormat::Jpeg { decode_jpeg_reduced(bytes, w, h) } else { None };
    let (decoded, orientation) = match reduced {
        Some(reduced) => reduced,
        None => {
            let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
            let mut limits = Limits::default();
            limits.max_image_width = Some(w.max(1));
            limits.max_image_height = Some(h.max(1));
            limits.max_alloc = Some(MAX_ALLOC);
            reader.limits(limits);
            let mut decoder = reader.into_decoder().map_err(map_err)?;
            let orientation = decoder.orientation().unwrap_or(Orientation::NoTransforms);
            (DynamicImage::from_decoder(decoder).map_err(map_err)?.into_rgb8(), orientation)
        }
    };
    // Resize first, rotate the smaller result: the long side does not depend on rotation.
    // Each step lets go of the buffer before it (a 12 MP photo's are 9 MB each).
    let resized = resize(&decoded, FULL_SIDE)?.unwrap_or(decoded);
    let mut oriented = DynamicImage::ImageRgb8(resized);
    oriented.apply_orientation(orientation);
    let full = oriented.into_rgb8();
    let thumb = resize(&full, THUMB_SIDE)?;
    let thumb = thumb.as_ref().unwrap_or(&full);
    Ok(Processed {
        full: encode(&full)?,
        width: full.width(),
        height: full.height(),
        thumb: encode(thumb)?,
        thumb_width: thumb.width(),
        thumb_height: thumb.height(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fitting_keeps_the_aspect_and_never_enlarges() {
        assert_eq!(fit(4000, 3000, 2048), (2048, 1536));
        assert_eq!(fit(3000, 4000, 320), (240, 320));
        assert_eq!(fit(100, 50, 320), (100, 50));
    }

    #[test]
    fn large_jpegs_shrink_on_load_and_keep_at_least_1920_px() {
        assert_eq!(MIN_REDUCED_SIDE, 1920);
        assert_eq!(shrink_on_load(2048), 1);
        assert_eq!(shrink_on_load(3000), 1, "1/2 would be 1500 px: decoded whole, resized to 2048");
        assert_eq!(shrink_on_load(4000), 2, "12 MP: straight to 2000 px");
        assert_eq!(shrink_on_load(7360), 2, "36 MP: 3680 px, then resized");
        assert_eq!(shrink_on_load(8192), 4);
        assert_eq!(shrink_on_load(40_000), 8);
    }

    fn photo(w: u32, h: u32, exif_orientation: Option<u8>) -> Vec<u8> {
        let img =
            RgbImage::from_fn(
                w,
                h,
                |x, _| if x < w / 2 { image::Rgb([220, 20, 20]) } else { image::Rgb([20, 20, 220]) },
            );
        let mut out = Vec::new();
        let mut encoder = jpeg_encoder::Encoder::new(&mut out, 80);
        if let Some(o) = exif_orientation {
            // A minimal little-endian TIFF with one IFD entry: Orientation (0x0112) = o.
            let exif = [
                b"Exif\0\0".as_slice(),
                b"II*\0\x08\0\0\0\x01\0\x12\x01\x03\0\x01\0\0\0",
                &[o, 0, 0, 0],
                &[0, 0, 0, 0],
            ]
            .concat();
            encoder.add_app_segment(1, exif).unwrap();
        }
        encoder.encode(img.as_raw(), w as u16, h as u16, jpeg_encoder::ColorType::Rgb).unwrap();
        out
    }

    #[test]
    fn a_large_jpeg_is_decoded_reduced_and_comes_out_the_same() {
        let bytes = photo(4400, 3000, None);
        let (reduced, orientation) = decode_jpeg_reduced(&bytes, 4400, 3000).expect("decoded at 1/2");
        assert_eq!((reduced.dimensions(), orientation), ((2200, 1500), Orientation::NoTransforms));
        let p = process(&bytes).unwrap();
        assert_eq!((p.width, p.height), (2048, 1396), "still over 2048 at 1/2: resized");
        let p = process(&photo(4000, 3000, None)).unwrap();
        assert_eq!((p.width, p.height), (2000, 1500), "a 12 MP photo: straight to 2000 px");
        // Its EXIF orientation is kept: 6 turns it a quarter clockwise.
        let p = process(&photo(4400, 3000, Some(6))).unwrap();
        assert_eq!((p.width, p.height), (1396, 2048));
        let out = image::load_from_memory(&p.full).unwrap().to_rgb8();
        let (top, bottom) = (out.get_pixel(698, 100), out.get_pixel(698, 1948));
        assert!(top[0] > 150 && bottom[2] > 150, "the red left half is on top: {top:?} {bottom:?}");
        // A small one is not this path's.
        assert!(decode_jpeg_reduced(&photo(400, 300, None), 400, 300).is_none());
    }

    #[test]
    fn a_jpeg_cut_short_is_corrupt() {
        let whole = [0xFF, 0xD8, 0xFF, 0xDA, 0x00, 0x01, 0xFF, 0x00, 0xFF, 0xD9];
        assert!(jpeg_is_complete(&whole));
        assert!(!jpeg_is_complete(&whole[..7]));
        assert!(!jpeg_is_complete(&[0xFF, 0xD8, 0xFF, 0xD9]), "an EOI before any scan does not count");
    }

    #[test]
    fn text_and_garbage_are_not_images() {
        assert_eq!(detect(b"hello, this is text"), None);
        assert_eq!(process(b"GIF89a....").err(), Some(ProcessError::Unsupported));
    }

    /// Upload fuzz: whatever the bytes, the pipeline answers Ok or an error, never panics,
    /// and what it accepts is a JPEG within the size bounds.
    mod fuzz {
        use super::*;
        use proptest::prelude::*;

        fn sample(format: ImageFormat) -> Vec<u8> {
            let img =
                RgbImage::from_fn(24, 16, |x, y| image::Rgb([(x * 10) as u8, (y * 15) as u8, ((x + y) * 5) as u8]));
            let mut out = Cursor::new(Vec::new());
            DynamicImage::ImageRgb8(img).write_to(&mut out, format).expect("a sample encodes");
            out.into_inner()
        }

        fn check(bytes: &[u8]) {
            if let Ok(p) = process(bytes) {
                assert!(p.width.max(p.height) <= FULL_SIDE && p.thumb_width.max(p.thumb_height) <= THUMB_SIDE);
                assert_eq!(detect(&p.full), Some(ImageFormat::Jpeg));
            }
        }

        #[derive(Debug, Clone)]
        enum Mutation {
            Set(usize, u8),
            Truncate(usize),
            Insert(usize, Vec<u8>),
        }

        fn mutation() -> impl Strategy<Value = Mutation> {
            prop_oneof![
                4 => (any::<usize>(), any::<u8>()).prop_map(|(i, b)| Mutation::Set(i, b)),
                1 => any::<usize>().prop_map(Mutation::Truncate),
                1 => (any::<usize>(), proptest::collection::vec(any::<u8>(), 1..16)).prop_map(|(i, b)| Mutation::Insert(i, b)),
            ]
        }

        fn mutate(mut bytes: Vec<u8>, mutations: &[Mutation]) -> Vec<u8> {
            for m in mutations {
                if bytes.is_empty() {
                    break;
                }
                match m {
                    Mutation::Set(i, b) => {
                        let at = i % bytes.len();
                        bytes[at] = *b;
                    }
                    Mutation::Truncate(i) => bytes.truncate(i % bytes.len()),
                    Mutation::Insert(i, more) => {
                        let at = i % bytes.len();
                        bytes.splice(at..at, more.iter().copied());
                    }
                }
            }
            bytes
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(400))]

            #[test]
            fn random_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..2048)) {
                check(&bytes);
            }

            #[test]
            fn random_bytes_behind_an_image_signature_never_panic(
                signature in prop_oneof![
                    Just(b"\xFF\xD8\xFF".to_vec()),
                    Just(b"\x89PNG\r\n\x1a\n".to_vec()),
                    Just(b"RIFF\x00\x00\x00\x00WEBPVP8 ".to_vec()),
                ],
                rest in proptest::collection::vec(any::<u8>(), 0..2048),
            ) {
                check(&[signature, rest].concat());
            }

            #[test]
            fn mutated_photos_never_panic(
                format in prop_oneof![Just(ImageFormat::Jpeg), Just(ImageFormat::Png), Just(ImageFormat::WebP)],
                mutations in proptest::collection::vec(mutation(), 1..8),
            ) {
                check(&mutate(sample(format), &mutations));
            }
        }

        #[test]
        fn the_unmutated_samples_are_accepted() {
            for format in [ImageFormat::Jpeg, ImageFormat::Png, ImageFormat::WebP] {
                let p = process(&sample(format)).unwrap_or_else(|e| panic!("{format:?}: {e:?}"));
                assert_eq!((p.width, p.height), (24, 16));
            }
        }
    }
}
