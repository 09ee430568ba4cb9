//! What a photo file says about itself, read once at indexing from the bytes already in memory:
//! when it was taken (with the camera's time-zone offset where the file records one), with
//! which camera, and where (GPS). Dates and places are what people search photos by; a file
//! without them falls back to its modification time, and results say which one they show.

use exif::{Exif, In, Tag, Value};
use std::io::{Cursor, Read, Seek, SeekFrom};
use std::path::Path;

/// The facts a photo's EXIF block gives, each absent when the file does not say.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Metadata {
    /// When the picture was taken, Unix seconds: the exact instant when the offset is known,
    /// else the camera's wall-clock time read as if it were UTC.
    pub taken_at: Option<i64>,
    /// The camera's offset from UTC in minutes (EXIF `OffsetTimeOriginal`), when recorded.
    pub offset_minutes: Option<i32>,
    /// Camera maker (`Make`), trimmed.
    pub camera_make: Option<String>,
    /// Camera model (`Model`), trimmed.
    pub camera_model: Option<String>,
    /// Latitude in degrees, north positive.
    pub latitude: Option<f64>,
    /// Longitude in degrees, east positive.
    pub longitude: Option<f64>,
}

impl Metadata {
    /// The camera as people name it: "Canon EOS R5", without the maker twice when the model
    /// already starts with it ("NIKON CORPORATION" + "NIKON D850" → "NIKON D850").
    pub fn camera(&self) -> Option<String> {
        match (&self.camera_make, &self.camera_model) {
            (Some(make), Some(model)) => {
                let first = make.split_whitespace().next().unwrap_or(make);
                if model.to_lowercase().starts_with(&first.to_lowercase()) {
                    Some(model.clone())
                } else {
                    Some(format!("{make} {model}"))
                }
            }
            (None, Some(m)) | (Some(m), None) => Some(m.clone()),
            (None, None) => None,
        }
    }
}

/// Reads the metadata of a file's bytes (JPEG, TIFF, PNG, WebP, HEIF containers); a file
/// without EXIF, or with a damaged block, gives an empty [`Metadata`], never an error.
pub fn read(bytes: &[u8]) -> Metadata {
    let found = match exif(bytes) {
        Some(exif) => from_exif(&exif),
        None => Metadata::default(),
    };
    // RAW containers the EXIF reader does not parse (CR3, RAF, ORF, RW2) carry the same block
    // in their embedded preview.
    #[cfg(feature = "raw")]
    if found == Metadata::default() && crate::raw::kind(bytes).is_some() {
        if let Some(p) = crate::raw::previews(bytes).first() {
            return read(p.bytes(bytes));
        }
    }
    found
}

/// A file's EXIF block, parsed; `None` when it has none or it is damaged. A JPEG is read only
/// up to its first scan, where EXIF must be: the EXIF reader alone searches every 0xFF byte of
/// the compressed data of a JPEG without EXIF, which cost indexing two such passes per photo.
pub(crate) fn exif(bytes: &[u8]) -> Option<Exif> {
    if bytes.starts_with(&[0xFF, 0xD8]) {
        match jpeg_exif_segment(bytes) {
            JpegExif::Found(tiff) => return exif::Reader::new().read_raw(tiff.to_vec()).ok(),
            JpegExif::None => return None,
            // Markers out of order or cut short: let the reader search the way it does.
            JpegExif::Unclear => {}
        }
    }
    exif::Reader::new()
        .read_from_container(&mut Cursor::new(bytes))
        .ok()
}

/// What a JPEG's marker segments before its first scan say about EXIF.
#[derive(Debug, PartialEq)]
enum JpegExif<'a> {
    /// The TIFF structure inside the `Exif\0\0` APP1 segment.
    Found(&'a [u8]),
    /// The first scan (or the end) came without one.
    None,
    /// The segments are not laid out as JPEG requires.
    Unclear,
}

/// Walks a JPEG's segments from SOI to the first SOS looking for the EXIF APP1 segment.
fn jpeg_exif_segment(bytes: &[u8]) -> JpegExif<'_> {
    const SOS: u8 = 0xDA;
    const EOI: u8 = 0xD9;
    const APP1: u8 = 0xE1;
    let mut at = 2;
    loop {
        if bytes.get(at) != Some(&0xFF) {
            return JpegExif::Unclear;
        }
        // Any number of 0xFF fill bytes may precede a marker code.
        while bytes.get(at) == Some(&0xFF) {
            at += 1;
        }
        let Some(&code) = bytes.get(at) else {
            return JpegExif::Unclear;
        };
        at += 1;
        match code {
            SOS | EOI => return JpegExif::None,
            // Stand-alone markers carry no length.
            0x01 | 0xD0..=0xD7 => continue,
            0x00 | 0xD8 => return JpegExif::Unclear,
            _ => {}
        }
        let Some(&[hi, lo]) = bytes.get(at..at + 2) else {
            return JpegExif::Unclear;
        };
        let len = usize::from(u16::from_be_bytes([hi, lo]));
        let Some(segment) = len
            .checked_sub(2)
            .and_then(|n| bytes.get(at + 2..at + 2 + n))
        else {
            return JpegExif::Unclear;
        };
        if code == APP1 {
            if let Some(tiff) = segment.strip_prefix(b"Exif\0\0") {
                return JpegExif::Found(tiff);
            }
        }
        at += len;
    }
}

/// Reads the metadata of a photo file without loading all of it where the EXIF block sits near
/// the start (JPEG puts it there): the first 256 KiB, then, if they say nothing, the whole file
/// up to the decoder's size limit. For photos indexed before Glimpse read metadata.
/// Opened through [`crate::read_photo`], so only a regular file is read, and at most the limit
/// of it.
pub fn read_file(path: &Path) -> Result<Metadata, crate::ReadError> {
    const HEAD: u64 = 256 * 1024;
    let mut photo = crate::read::PhotoFile::open(path)?;
    let len = photo.len();
    let mut head = Vec::with_capacity(HEAD.min(len) as usize);
    photo.file().take(HEAD).read_to_end(&mut head)?;
    let found = read(&head);
    if found != Metadata::default() || len <= HEAD || len > crate::read::MAX_FILE_BYTES {
        return Ok(found);
    }
    photo.file().seek(SeekFrom::Start(0))?;
    Ok(read(&photo.read_all(crate::read::MAX_FILE_BYTES)?))
}

/// The metadata in a parsed EXIF block.
pub(crate) fn from_exif(exif: &Exif) -> Metadata {
    let text = |tag: Tag| -> Option<String> {
        let f = exif.get_field(tag, In::PRIMARY)?;
        match &f.value {
            Value::Ascii(parts) => {
                let s: String = parts
                    .iter()
                    .map(|p| String::from_utf8_lossy(p).into_owned())
                    .collect::<Vec<_>>()
                    .join(" ");
                let s = s.trim_matches(|c: char| c == '\0' || c.is_whitespace());
                (!s.is_empty()).then(|| s.to_string())
            }
            _ => None,
        }
    };
    // The moment the shutter fired, else when it was digitised, else the file's own date tag.
    let dates = [
        (Tag::DateTimeOriginal, Tag::OffsetTimeOriginal),
        (Tag::DateTimeDigitized, Tag::OffsetTimeDigitized),
        (Tag::DateTime, Tag::OffsetTime),
    ];
    let (mut taken_at, mut offset_minutes) = (None, None);
    for (date_tag, offset_tag) in dates {
        if let Some(local) = text(date_tag).as_deref().and_then(parse_exif_datetime) {
            offset_minutes = text(offset_tag).as_deref().and_then(parse_offset);
            taken_at = Some(local - i64::from(offset_minutes.unwrap_or(0)) * 60);
            break;
        }
    }
    let coordinate = |value: Tag, reference: Tag, negative: &str| -> Option<f64> {
        let f = exif.get_field(value, In::PRIMARY)?;
        let Value::Rational(parts) = &f.value else {
            return None;
        };
        let mut deg = 0.0;
        for (i, r) in parts.iter().take(3).enumerate() {
            if r.denom == 0 {
                return None;
            }
            deg += r.to_f64() / [1.0, 60.0, 3600.0][i];
        }
        let sign = match text(reference) {
            Some(r) if r.eq_ignore_ascii_case(negative) => -1.0,
            _ => 1.0,
        };
        Some(sign * deg)
    };
    let latitude = coordinate(Tag::GPSLatitude, Tag::GPSLatitudeRef, "S");
    let longitude = coordinate(Tag::GPSLongitude, Tag::GPSLongitudeRef, "W");
    // A position is both numbers, in range; (0, 0) is what broken GPS units write.
    let (latitude, longitude) = match (latitude, longitude) {
        (Some(la), Some(lo))
            if (-90.0..=90.0).contains(&la)
                && (-180.0..=180.0).contains(&lo)
                && (la, lo) != (0.0, 0.0) =>
        {
            (Some(la), Some(lo))
        }
        _ => (None, None),
    };
    Metadata {
        taken_at,
        offset_minutes,
        camera_make: text(Tag::Make),
        camera_model: text(Tag::Model),
        latitude,
        longitude,
    }
}

/// `YYYY:MM:DD HH:MM:SS` (also with `-` in the date) as seconds since 1970 on the same clock;
/// the blank or zero dates some cameras write are no date.
pub(crate) fn parse_exif_datetime(s: &str) -> Option<i64> {
    let s = s.trim();
    let (date, time) = s.split_once([' ', 'T'])?;
    let mut d = date.split([':', '-']);
    let num = |it: &mut dyn Iterator<Item = &str>| -> Option<i64> {
        it.next()?.trim().parse::<i64>().ok()
    };
    let (y, mo, day) = (num(&mut d)?, num(&mut d)?, num(&mut d)?);
    let mut t = time.split(':');
    let (h, mi) = (num(&mut t)?, num(&mut t)?);
    let sec = t
        .next()
        .and_then(|x| x.get(..2).unwrap_or(x).parse::<i64>().ok())
        .unwrap_or(0);
    if y < 1800 || !(0..24).contains(&h) || !(0..60).contains(&mi) || !(0..61).contains(&sec) {
        return None;
    }
    crate::calendar::seconds_of(y, mo, day, h, mi, sec)
}

/// `+09:00`, `-05:30`, `Z` as minutes east of UTC.
pub(crate) fn parse_offset(s: &str) -> Option<i32> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("z") {
        return Some(0);
    }
    let sign = match s.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let (h, m) = s[1..].split_once(':').unwrap_or((&s[1..], "0"));
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if !(0..=14).contains(&h) || !(0..60).contains(&m) {
        return None;
    }
    Some(sign * (h * 60 + m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of an EXIF block, as text, to compare two parses.
    fn fields(exif: &Exif) -> Vec<String> {
        exif.fields()
            .map(|f| format!("{} {} {}", f.tag, f.ifd_num, f.display_value()))
            .collect()
    }

    #[test]
    fn the_exif_of_a_jpeg_is_found_before_its_first_scan_as_the_reader_finds_it() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures");
        let (mut with, mut without) = (0, 0);
        for dir in ["exif", "images", "raw", "formats", "broken"] {
            for entry in std::fs::read_dir(root.join(dir)).unwrap() {
                let path = entry.unwrap().path();
                let bytes = std::fs::read(&path).unwrap();
                let slow = exif::Reader::new()
                    .read_from_container(&mut Cursor::new(&bytes))
                    .ok();
                let fast = exif(&bytes);
                assert_eq!(
                    fast.as_ref().map(fields),
                    slow.as_ref().map(fields),
                    "{}",
                    path.display()
                );
                if bytes.starts_with(&[0xFF, 0xD8]) {
                    match jpeg_exif_segment(&bytes) {
                        JpegExif::Found(_) => with += 1,
                        JpegExif::None => without += 1,
                        JpegExif::Unclear => panic!("{}: segments unclear", path.display()),
                    }
                }
            }
        }
        // Both kinds were seen, so the fast path answered (not the reader's search).
        assert!(
            with >= 8 && without >= 5,
            "{with} with EXIF, {without} without"
        );
    }

    #[test]
    fn jpeg_segments_are_walked_past_fill_bytes_and_other_segments() {
        let tiff = b"MM\0*\0\0\0\x08\0\0";
        let app1 = |payload: &[u8]| {
            let mut s = vec![0xFF, 0xE1];
            s.extend_from_slice(&u16::try_from(payload.len() + 2).unwrap().to_be_bytes());
            s.extend_from_slice(payload);
            s
        };
        let mut exif_payload = b"Exif\0\0".to_vec();
        exif_payload.extend_from_slice(tiff);
        let jfif = [0xFF, 0xE0, 0x00, 0x04, 0x4A, 0x46];
        let sos = [0xFF, 0xDA, 0x00, 0x02];

        // SOI, APP0, fill bytes, an XMP APP1 (not EXIF), then the EXIF APP1.
        let mut jpeg = vec![0xFF, 0xD8];
        jpeg.extend_from_slice(&jfif);
        jpeg.extend_from_slice(&[0xFF, 0xFF]);
        jpeg.extend_from_slice(&app1(b"http://ns.adobe.com/xap/1.0/\0<x/>"));
        jpeg.extend_from_slice(&app1(&exif_payload));
        jpeg.extend_from_slice(&sos);
        assert_eq!(jpeg_exif_segment(&jpeg), JpegExif::Found(&tiff[..]));

        // An EXIF block after the first scan is not looked for.
        let mut late = vec![0xFF, 0xD8];
        late.extend_from_slice(&jfif);
        late.extend_from_slice(&sos);
        late.extend_from_slice(&[0x12, 0xFF, 0x00, 0x34]);
        late.extend_from_slice(&app1(&exif_payload));
        assert_eq!(jpeg_exif_segment(&late), JpegExif::None);

        // Cut short inside a segment, a length below 2, a byte where a marker must be.
        assert_eq!(jpeg_exif_segment(&jpeg[..10]), JpegExif::Unclear);
        assert_eq!(
            jpeg_exif_segment(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01]),
            JpegExif::Unclear
        );
        assert_eq!(jpeg_exif_segment(&[0xFF, 0xD8, 0x00]), JpegExif::Unclear);
    }

    #[test]
    fn exif_dates_and_offsets_parse() {
        assert_eq!(parse_exif_datetime("1970:01:01 00:00:00"), Some(0));
        assert_eq!(
            parse_exif_datetime("2024:06:01 08:30:15"),
            Some(1_717_230_615)
        );
        assert_eq!(
            parse_exif_datetime("2024-06-01T08:30:15.250"),
            Some(1_717_230_615)
        );
        assert_eq!(parse_exif_datetime("0000:00:00 00:00:00"), None);
        assert_eq!(parse_exif_datetime("    :  :     :  :  "), None);
        assert_eq!(parse_exif_datetime("2024:13:01 00:00:00"), None);
        assert_eq!(parse_offset("+09:00"), Some(540));
        assert_eq!(parse_offset("-05:30"), Some(-330));
        assert_eq!(parse_offset("Z"), Some(0));
        assert_eq!(parse_offset("09:00"), None);
        assert_eq!(parse_offset("+25:00"), None);
    }

    #[test]
    fn cameras_are_named_once() {
        let m = |make: &str, model: &str| Metadata {
            camera_make: Some(make.into()),
            camera_model: Some(model.into()),
            ..Metadata::default()
        };
        assert_eq!(
            m("NIKON CORPORATION", "NIKON D850").camera().as_deref(),
            Some("NIKON D850")
        );
        assert_eq!(
            m("Canon", "EOS R5").camera().as_deref(),
            Some("Canon EOS R5")
        );
        assert_eq!(Metadata::default().camera(), None);
    }

    #[test]
    fn no_exif_is_no_metadata() {
        assert_eq!(read(b"not an image"), Metadata::default());
        assert_eq!(read(&[]), Metadata::default());
    }
}
