//! Camera RAW files (CR2, CR3, NEF, ARW, DNG, RAF, ORF, RW2) through the JPEG preview every
//! camera embeds: a full-size or near-full-size picture rendered by the camera itself, which is
//! what CLIP should see, at a fraction of the cost of demosaicing the sensor data.
//!
//! Recognition is by content (each maker's signature, or a TIFF whose first directory names a
//! RAW maker or carries a DNG version), so a plain TIFF is never mistaken for a RAW. Previews
//! are found the same way for every maker: every embedded baseline or progressive JPEG in the
//! file is measured from its frame header, and the largest one is used (the sensor data itself,
//! where it is a lossless JPEG, is not a candidate).

/// The smallest short side a preview may have to stand in for the photo.
pub(crate) const MIN_PREVIEW_SHORT_SIDE: u32 = 256;

/// The RAW format of `bytes`, by content: one of [`crate::formats::RAW_FORMATS`] ("cr2", "cr3",
/// "nef", "arw", "dng", "raf", "orf", "rw2"); `None` for anything else, plain TIFFs included.
pub(crate) fn kind(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(b"FUJIFILMCCD-RAW") {
        return Some("raf");
    }
    if bytes.len() >= 12 && &bytes[4..8] == b"ftyp" && &bytes[8..12] == b"crx " {
        return Some("cr3");
    }
    if bytes.starts_with(b"IIRO") || bytes.starts_with(b"IIRS") || bytes.starts_with(b"MMOR") {
        return Some("orf");
    }
    if bytes.starts_with(b"IIU\0") {
        return Some("rw2");
    }
    let tiff = Tiff::new(bytes)?;
    if bytes.get(8..10) == Some(b"CR") {
        return Some("cr2");
    }
    let ifd0 = tiff.ifd(tiff.first_ifd()?)?;
    if ifd0.iter().any(|e| e.tag == TAG_DNG_VERSION) {
        return Some("dng");
    }
    let make = ifd0
        .iter()
        .find(|e| e.tag == TAG_MAKE)
        .and_then(|e| tiff.bytes_of(e))
        .map(|b| String::from_utf8_lossy(b).to_ascii_lowercase())?;
    [
        ("nikon", "nef"),
        ("sony", "arw"),
        ("canon", "cr2"),
        ("olympus", "orf"),
        ("om digital", "orf"),
        ("panasonic", "rw2"),
        ("fujifilm", "raf"),
    ]
    .iter()
    .find(|(maker, _)| make.starts_with(maker))
    .map(|(_, k)| *k)
}

/// An embedded JPEG: where it is and how large it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Preview {
    /// Byte offset of its SOI marker.
    pub offset: usize,
    /// Length up to and including its EOI marker.
    pub len: usize,
    /// Pixel width from its frame header.
    pub width: u32,
    /// Pixel height from its frame header.
    pub height: u32,
}

impl Preview {
    /// Its bytes in `file`.
    pub(crate) fn bytes<'a>(&self, file: &'a [u8]) -> &'a [u8] {
        &file[self.offset..self.offset + self.len]
    }
}

/// Every complete baseline or progressive JPEG embedded in `bytes`, largest first.
pub(crate) fn previews(bytes: &[u8]) -> Vec<Preview> {
    let mut found = Vec::new();
    let mut at = 0;
    while let Some(i) = find(&bytes[at..], &[0xFF, 0xD8, 0xFF]) {
        let start = at + i;
        match measure_jpeg(&bytes[start..]) {
            Some((len, width, height)) => {
                found.push(Preview {
                    offset: start,
                    len,
                    width,
                    height,
                });
                // A preview's own thumbnail (in its EXIF) lies inside it: skip past.
                at = start + len;
            }
            None => at = start + 2,
        }
    }
    found.sort_by_key(|p| std::cmp::Reverse(u64::from(p.width) * u64::from(p.height)));
    found
}

/// The preview to index a RAW file by: the largest embedded JPEG, if its short side is at
/// least [`MIN_PREVIEW_SHORT_SIDE`]; otherwise why not (the sensor data is developed instead).
pub(crate) fn best_preview(bytes: &[u8]) -> Result<Preview, String> {
    match previews(bytes).first() {
        Some(p) if p.width.min(p.height) >= MIN_PREVIEW_SHORT_SIDE => Ok(*p),
        Some(p) => Err(format!(
            "the largest embedded preview is {}x{}, smaller than {} px on its short side",
            p.width, p.height, MIN_PREVIEW_SHORT_SIDE
        )),
        None => Err("no embedded JPEG preview".into()),
    }
}

/// Where `needle` (which starts with 0xFF) first occurs: a byte scan for 0xFF, then a compare,
/// which is what keeps looking through a 50 MB RAW file fast.
fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(i) = hay.get(from..)?.iter().position(|&x| x == needle[0]) {
        let at = from + i;
        if hay.get(at..at + needle.len())? == needle {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Walks a JPEG from its SOI: marker segments up to the scan(s), then the entropy-coded data
/// to EOI. Returns (length, width, height) for a complete baseline/extended/progressive JPEG
/// with a plausible frame header; `None` for anything else (lossless JPEG sensor data, random
/// bytes that happen to look like a marker, a cut-off file).
fn measure_jpeg(b: &[u8]) -> Option<(usize, u32, u32)> {
    let mut i = 2;
    let mut size = None;
    loop {
        // Markers may be padded with extra 0xFF bytes.
        if *b.get(i)? != 0xFF {
            return None;
        }
        while *b.get(i)? == 0xFF {
            i += 1;
        }
        let marker = *b.get(i)?;
        i += 1;
        match marker {
            0xD9 => return size.map(|(w, h)| (i, w, h)),
            0x01 | 0xD0..=0xD7 => continue,
            _ => {}
        }
        let seg = u16::from_be_bytes([*b.get(i)?, *b.get(i + 1)?]) as usize;
        if seg < 2 {
            return None;
        }
        match marker {
            // Baseline, extended sequential, progressive (Huffman): what decoders read.
            0xC0..=0xC2 => {
                let h = u16::from_be_bytes([*b.get(i + 3)?, *b.get(i + 4)?]) as u32;
                let w = u16::from_be_bytes([*b.get(i + 5)?, *b.get(i + 6)?]) as u32;
                if w == 0 || h == 0 {
                    return None;
                }
                size = Some((w, h));
            }
            // Lossless (the sensor data of many RAWs), hierarchical, arithmetic: not previews.
            0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF => return None,
            _ => {}
        }
        i += seg;
        if marker == 0xDA {
            // Entropy-coded data until a marker other than stuffing or a restart.
            loop {
                let j = i + find(b.get(i..)?, &[0xFF])?;
                let next = *b.get(j + 1)?;
                if next == 0x00 || (0xD0..=0xD7).contains(&next) || next == 0xFF {
                    i = j + 1;
                    continue;
                }
                i = j;
                break;
            }
        }
    }
}

const TAG_MAKE: u16 = 0x010F;
const TAG_DNG_VERSION: u16 = 0xC612;

/// One directory entry of a TIFF file.
#[derive(Debug, Clone, Copy)]
struct Entry {
    tag: u16,
    kind: u16,
    count: u32,
    value: u32,
    /// Offset of the 4-byte value field itself.
    field: usize,
}

/// Just enough of TIFF to read the first directory of a RAW file.
struct Tiff<'a> {
    b: &'a [u8],
    little: bool,
}

impl<'a> Tiff<'a> {
    fn new(b: &'a [u8]) -> Option<Self> {
        let little = match b.get(..4)? {
            [b'I', b'I', 42, 0] => true,
            [b'M', b'M', 0, 42] => false,
            _ => return None,
        };
        Some(Tiff { b, little })
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let x = [*self.b.get(at)?, *self.b.get(at + 1)?];
        Some(if self.little {
            u16::from_le_bytes(x)
        } else {
            u16::from_be_bytes(x)
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let x = self.b.get(at..at + 4)?;
        let x = [x[0], x[1], x[2], x[3]];
        Some(if self.little {
            u32::from_le_bytes(x)
        } else {
            u32::from_be_bytes(x)
        })
    }

    fn first_ifd(&self) -> Option<usize> {
        Some(self.u32(4)? as usize)
    }

    fn ifd(&self, at: usize) -> Option<Vec<Entry>> {
        let n = self.u16(at)? as usize;
        if n > 1000 {
            return None;
        }
        (0..n)
            .map(|k| {
                let e = at + 2 + 12 * k;
                Some(Entry {
                    tag: self.u16(e)?,
                    kind: self.u16(e + 2)?,
                    count: self.u32(e + 4)?,
                    value: self.u32(e + 8)?,
                    field: e + 8,
                })
            })
            .collect()
    }

    /// The bytes of an ASCII/BYTE/UNDEFINED entry (inline when 4 bytes or fewer).
    fn bytes_of(&self, e: &Entry) -> Option<&'a [u8]> {
        if !matches!(e.kind, 1 | 2 | 7) {
            return None;
        }
        let n = e.count as usize;
        let start = if n <= 4 { e.field } else { e.value as usize };
        let s = self.b.get(start..start.checked_add(n)?)?;
        Some(s.split(|c| *c == 0).next().unwrap_or(s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jpeg(w: u32, h: u32) -> Vec<u8> {
        let img = image::RgbImage::from_pixel(w, h, image::Rgb([10, 200, 30]));
        turbojpeg::compress_image(&img, 80, turbojpeg::Subsamp::Sub2x2)
            .unwrap()
            .to_vec()
    }

    #[test]
    fn finds_the_largest_embedded_jpeg_among_noise() {
        let mut file = b"II*\0\x08\0\0\0".to_vec();
        file.extend_from_slice(&[0xFF, 0xD8, 0xFF, 0x00, 0x13]); // a false start
        file.extend(std::iter::repeat_n(0x5A, 100));
        let small = jpeg(160, 120);
        let large = jpeg(640, 424);
        let (s, l) = (file.len(), file.len() + small.len() + 7);
        file.extend_from_slice(&small);
        file.extend_from_slice(&[1, 2, 3, 4, 5, 6, 7]);
        file.extend_from_slice(&large);
        file.extend(std::iter::repeat_n(0xFF, 9));
        let found = previews(&file);
        assert_eq!(found.len(), 2);
        assert_eq!(
            found[0],
            Preview {
                offset: l,
                len: large.len(),
                width: 640,
                height: 424
            }
        );
        assert_eq!(found[1].offset, s);
        assert_eq!(found[0].bytes(&file), &large[..]);
        assert_eq!(best_preview(&file).unwrap().width, 640);
    }

    #[test]
    fn a_small_or_missing_preview_says_why() {
        let mut file = b"FUJIFILMCCD-RAW 0201".to_vec();
        file.extend_from_slice(&jpeg(200, 150));
        let e = best_preview(&file).unwrap_err();
        assert!(e.contains("200x150"), "{e}");
        assert!(best_preview(b"FUJIFILMCCD-RAW nothing").is_err());
    }

    #[test]
    fn a_cut_off_jpeg_is_not_a_preview() {
        let j = jpeg(400, 300);
        assert!(previews(&j[..j.len() / 2]).is_empty());
        assert_eq!(previews(&j).len(), 1);
    }

    #[test]
    fn kinds_are_recognised_by_content_and_plain_tiffs_are_not_raw() {
        assert_eq!(kind(b"FUJIFILMCCD-RAW 0201"), Some("raf"));
        assert_eq!(kind(b"\0\0\0\x18ftypcrx \0\0\0\x01"), Some("cr3"));
        assert_eq!(kind(b"IIRO\x08\0\0\0"), Some("orf"));
        assert_eq!(kind(b"IIU\0\x08\0\0\0"), Some("rw2"));
        assert_eq!(kind(b"II*\0\x10\0\0\0CR\x02\0"), Some("cr2"));
        let mut plain = Vec::new();
        image::DynamicImage::ImageRgb8(image::RgbImage::new(4, 4))
            .write_to(
                &mut std::io::Cursor::new(&mut plain),
                image::ImageFormat::Tiff,
            )
            .unwrap();
        assert_eq!(kind(&plain), None);
        assert_eq!(kind(b"not a raw"), None);
    }
}
