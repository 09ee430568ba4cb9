//! Pictures of coloured shapes drawn at test time with tiny-skia (anti-aliased vector paths):
//! a different renderer, different geometry and different randomness from the Pillow pictures
//! the shape model was trained on (models/test/make_shape_clip.py), so search tests measure
//! what the model learned, not what it memorised.

use std::path::{Path, PathBuf};
use tiny_skia::{FillRule, Paint, PathBuilder, Pixmap, Shader, Transform};

/// The shape names, as queries use them.
pub const SHAPES: [&str; 5] = ["circle", "square", "triangle", "star", "heart"];

/// The colour names with their nominal RGB.
pub const COLOURS: [(&str, [u8; 3]); 8] = [
    ("red", [215, 35, 35]),
    ("green", [40, 160, 60]),
    ("blue", [35, 70, 215]),
    ("yellow", [240, 215, 40]),
    ("orange", [245, 140, 25]),
    ("purple", [135, 55, 175]),
    ("black", [18, 18, 18]),
    ("white", [250, 250, 250]),
];

/// A tiny deterministic generator (xorshift64*), so every run draws the same pictures.
pub struct Rng(u64);

impl Rng {
    /// A generator for `seed`.
    pub fn new(seed: u64) -> Self {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// Uniform in [0, 1).
    pub fn f(&mut self) -> f32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        (x >> 40) as f32 / (1u64 << 24) as f32
    }

    /// Uniform in [lo, hi).
    pub fn range(&mut self, lo: f32, hi: f32) -> f32 {
        lo + (hi - lo) * self.f()
    }

    /// Uniform index below `n`.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.f() * n as f32) as usize).min(n - 1)
    }
}

/// One shape in a picture.
#[derive(Debug, Clone, Copy)]
pub struct Shape {
    /// Index into [`SHAPES`].
    pub shape: usize,
    /// Index into [`COLOURS`].
    pub colour: usize,
    /// Centre, as fractions of width and height.
    pub cx: f32,
    /// Centre y.
    pub cy: f32,
    /// Radius as a fraction of the short side.
    pub r: f32,
    /// Rotation in degrees.
    pub angle: f32,
}

/// The background of a picture.
#[derive(Debug, Clone, Copy)]
pub enum Background {
    /// One grey level.
    Plain(u8),
    /// A linear gradient between two grey levels along an angle (degrees).
    Gradient(u8, u8, f32),
    /// A grey level with per-pixel noise of this amplitude.
    Noise(u8, u8),
    /// A linear gradient between two colours along an angle (degrees); one colour twice is a
    /// flat colour. Pictures that differ only in their background's hue (the duplicate tests).
    Colours([u8; 3], [u8; 3], f32),
}

/// Everything needed to draw a picture again (e.g. as a moved "different shot").
#[derive(Debug, Clone)]
pub struct Scene {
    /// Picture width.
    pub width: u32,
    /// Picture height.
    pub height: u32,
    /// The background.
    pub background: Background,
    /// The shapes, drawn in order.
    pub shapes: Vec<Shape>,
    /// Seed of the background noise.
    pub noise_seed: u64,
}

impl Scene {
    /// Whether the picture holds a shape of this colour and kind.
    pub fn contains(&self, colour: usize, shape: usize) -> bool {
        self.shapes
            .iter()
            .any(|s| s.colour == colour && s.shape == shape)
    }
}

/// A grey level that contrasts with the colour (white shapes on darker greys, black on lighter).
fn grey_for(rng: &mut Rng, colour: usize) -> u8 {
    let (lo, hi) = match COLOURS[colour].0 {
        "white" => (55.0, 165.0),
        "black" => (105.0, 225.0),
        "yellow" => (55.0, 190.0),
        _ => (60.0, 220.0),
    };
    rng.range(lo, hi) as u8
}

/// A random scene: one shape (or two, of different kinds and colours) on a random background.
pub fn random_scene(
    rng: &mut Rng,
    colour: usize,
    shape: usize,
    second: Option<(usize, usize)>,
) -> Scene {
    let width = rng.range(170.0, 330.0) as u32;
    let height = rng.range(170.0, 330.0) as u32;
    let mut shapes = Vec::new();
    let colours_present: Vec<usize> = std::iter::once(colour).chain(second.map(|s| s.0)).collect();
    // A grey that suits every colour present.
    let grey = loop {
        let pick = colours_present[rng.below(colours_present.len())];
        let g = grey_for(rng, pick);
        let ok = colours_present.iter().all(|c| match COLOURS[*c].0 {
            "white" => g < 170,
            "black" => g > 100,
            _ => true,
        });
        if ok {
            break g;
        }
    };
    let background = match rng.below(3) {
        0 => Background::Plain(grey),
        1 => {
            let other = (f32::from(grey) + rng.range(-45.0, 45.0)).clamp(50.0, 230.0) as u8;
            let ok = colours_present.iter().all(|c| match COLOURS[*c].0 {
                "white" => other < 175,
                "black" => other > 95,
                _ => true,
            });
            Background::Gradient(grey, if ok { other } else { grey }, rng.range(0.0, 360.0))
        }
        _ => Background::Noise(grey, rng.range(8.0, 28.0) as u8),
    };
    match second {
        None => shapes.push(Shape {
            shape,
            colour,
            cx: 0.0,
            cy: 0.0,
            r: rng.range(0.14, 0.34),
            angle: rng.range(-40.0, 40.0),
        }),
        Some((c2, s2)) => {
            for (c, s) in [(colour, shape), (c2, s2)] {
                shapes.push(Shape {
                    shape: s,
                    colour: c,
                    cx: 0.0,
                    cy: 0.0,
                    r: rng.range(0.11, 0.2),
                    angle: rng.range(-40.0, 40.0),
                });
            }
        }
    }
    // Place the shapes inside the centre square (what CLIP's centre crop sees; two shapes side
    // by side, never overlapping), expressed as fractions of the whole frame.
    let (w, h) = (width as f32, height as f32);
    let short = w.min(h);
    let (x0, y0) = ((w - short) / 2.0, (h - short) / 2.0);
    let n = shapes.len();
    for (i, s) in shapes.iter_mut().enumerate() {
        let m = s.r * 1.25;
        let (lo, hi) = if n == 1 {
            (m, 1.0 - m)
        } else if i == 0 {
            (m, 0.5 - m)
        } else {
            (0.5 + m, 1.0 - m)
        };
        let u = if hi > lo { rng.range(lo, hi) } else { 0.5 };
        let v = if 1.0 - 2.0 * m > 0.0 {
            rng.range(m, 1.0 - m)
        } else {
            0.5
        };
        s.cx = (x0 + u * short) / w;
        s.cy = (y0 + v * short) / h;
    }
    Scene {
        width,
        height,
        background,
        shapes,
        noise_seed: (rng.f() * 1e9) as u64,
    }
}

fn path_of(shape: usize) -> Option<tiny_skia::Path> {
    let mut pb = PathBuilder::new();
    match SHAPES[shape] {
        "circle" => {
            pb.push_circle(0.0, 0.0, 1.0);
        }
        "square" => {
            let k = 0.86;
            pb.move_to(-k, -k);
            pb.line_to(k, -k);
            pb.line_to(k, k);
            pb.line_to(-k, k);
            pb.close();
        }
        "triangle" => {
            for i in 0..3 {
                let a = (-90.0f32 + 120.0 * i as f32).to_radians();
                let (x, y) = (a.cos(), a.sin() + 0.2);
                if i == 0 {
                    pb.move_to(x, y);
                } else {
                    pb.line_to(x, y);
                }
            }
            pb.close();
        }
        "star" => {
            for i in 0..10 {
                let a = (-90.0f32 + 36.0 * i as f32).to_radians();
                let r = if i % 2 == 0 { 1.0 } else { 0.45 };
                let (x, y) = (r * a.cos(), r * a.sin() + 0.05);
                if i == 0 {
                    pb.move_to(x, y);
                } else {
                    pb.line_to(x, y);
                }
            }
            pb.close();
        }
        _ => {
            // Heart: two cubic lobes meeting at a dip on top and a point below.
            pb.move_to(0.0, 0.95);
            pb.cubic_to(-1.25, 0.05, -0.75, -1.05, 0.0, -0.4);
            pb.cubic_to(0.75, -1.05, 1.25, 0.05, 0.0, 0.95);
            pb.close();
        }
    }
    pb.finish()
}

/// Draws a scene.
pub fn render(scene: &Scene) -> image::RgbImage {
    let (w, h) = (scene.width, scene.height);
    let mut pixmap = match Pixmap::new(w, h) {
        Some(p) => p,
        None => panic!("cannot allocate a {w}x{h} pixmap"),
    };
    let grey = |g: u8| [g, g, g];
    let rgb = |[r, g, b]: [u8; 3]| tiny_skia::Color::from_rgba8(r, g, b, 255);
    let gradient = match scene.background {
        Background::Plain(g) | Background::Noise(g, _) => {
            pixmap.fill(rgb(grey(g)));
            None
        }
        Background::Gradient(a, b, angle) => Some((grey(a), grey(b), angle)),
        Background::Colours(a, b, angle) => Some((a, b, angle)),
    };
    if let Some((a, b, angle)) = gradient {
        let (dx, dy) = (angle.to_radians().cos(), angle.to_radians().sin());
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        let half = (w.max(h) as f32) / 2.0;
        let shader = tiny_skia::LinearGradient::new(
            tiny_skia::Point::from_xy(cx - dx * half, cy - dy * half),
            tiny_skia::Point::from_xy(cx + dx * half, cy + dy * half),
            vec![
                tiny_skia::GradientStop::new(0.0, rgb(a)),
                tiny_skia::GradientStop::new(1.0, rgb(b)),
            ],
            tiny_skia::SpreadMode::Pad,
            Transform::identity(),
        );
        let mut paint = Paint::default();
        match shader {
            Some(s) => paint.shader = s,
            None => paint.set_color(rgb(a)),
        }
        if let Some(rect) = tiny_skia::Rect::from_xywh(0.0, 0.0, w as f32, h as f32) {
            pixmap.fill_rect(rect, &paint, Transform::identity(), None);
        }
    }
    let short = w.min(h) as f32;
    for s in &scene.shapes {
        let Some(path) = path_of(s.shape) else {
            continue;
        };
        let [r, g, b] = COLOURS[s.colour].1;
        let mut paint = Paint {
            anti_alias: true,
            shader: Shader::SolidColor(tiny_skia::Color::from_rgba8(r, g, b, 255)),
            ..Paint::default()
        };
        paint.anti_alias = true;
        let radius = s.r * short;
        let t = Transform::from_translate(s.cx * w as f32, s.cy * h as f32)
            .pre_rotate(s.angle)
            .pre_scale(radius, radius);
        pixmap.fill_path(&path, &paint, FillRule::Winding, t, None);
    }
    let mut img = image::RgbImage::new(w, h);
    for (i, px) in pixmap.pixels().iter().enumerate() {
        let c = px.demultiply();
        img.as_mut()[i * 3..i * 3 + 3].copy_from_slice(&[c.red(), c.green(), c.blue()]);
    }
    if let Background::Noise(_, amp) = scene.background {
        let mut rng = Rng::new(scene.noise_seed);
        for p in img.pixels_mut() {
            let n = rng.range(-f32::from(amp), f32::from(amp));
            for c in p.0.iter_mut() {
                *c = (f32::from(*c) + n).clamp(0.0, 255.0) as u8;
            }
        }
    }
    img
}

/// `img` as JPEG bytes at `quality`: the recompressed copies the duplicate tests make.
pub fn jpeg(img: &image::RgbImage, quality: u8) -> Vec<u8> {
    let mut bytes = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut bytes, quality)
        .encode_image(img)
        .unwrap_or_else(|e| panic!("cannot encode a JPEG: {e}"));
    bytes
}

/// A 260 x 220 picture of one shape on `background`, centred at (cx, cy) with radius `r`
/// (fractions as in [`Shape`]): the copies and look-alikes the duplicate tests draw.
pub fn one_shape(
    background: Background,
    shape: usize,
    colour: usize,
    cx: f32,
    cy: f32,
    r: f32,
) -> Scene {
    Scene {
        width: 260,
        height: 220,
        background,
        shapes: vec![Shape {
            shape,
            colour,
            cx,
            cy,
            r,
            angle: 10.0,
        }],
        noise_seed: 7,
    }
}

/// Saves a picture as PNG, or as JPEG (quality 90) when the name ends in `.jpg`.
pub fn save(img: &image::RgbImage, path: &Path) {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    }
    let result = if path.extension().is_some_and(|e| e == "jpg") {
        std::fs::write(path, jpeg(img, 90)).map_err(|e| e.to_string())
    } else {
        img.save(path).map_err(|e| e.to_string())
    };
    if let Err(e) = result {
        panic!("cannot save {}: {e}", path.display());
    }
}

/// A drawn picture on disk with what it shows.
#[derive(Debug, Clone)]
pub struct Drawn {
    /// The file.
    pub path: PathBuf,
    /// What it shows.
    pub scene: Scene,
}

/// The search-test folder: `per_class` single-shape pictures of every colour x shape, plus
/// `pairs` two-shape pictures; every fourth picture is a JPEG.
pub fn draw_folder(dir: &Path, per_class: usize, pairs: usize, seed: u64) -> Vec<Drawn> {
    let mut rng = Rng::new(seed);
    let mut out = Vec::new();
    let mut n = 0usize;
    for (c, (cname, _)) in COLOURS.iter().enumerate() {
        for (s, sname) in SHAPES.iter().enumerate() {
            for k in 0..per_class {
                let scene = random_scene(&mut rng, c, s, None);
                let ext = if n % 4 == 3 { "jpg" } else { "png" };
                let path = dir.join(format!("{cname}-{sname}-{k}.{ext}"));
                save(&render(&scene), &path);
                out.push(Drawn { path, scene });
                n += 1;
            }
        }
    }
    for k in 0..pairs {
        let (c1, s1) = (rng.below(8), rng.below(5));
        let c2 = (c1 + 1 + rng.below(7)) % 8;
        let s2 = (s1 + 1 + rng.below(4)) % 5;
        let scene = random_scene(&mut rng, c1, s1, Some((c2, s2)));
        let path = dir.join(format!("pair-{k}.png"));
        save(&render(&scene), &path);
        out.push(Drawn { path, scene });
    }
    out
}
