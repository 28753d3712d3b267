//! Pictures of the demo catalog's products, drawn when the catalog is seeded: a store started on
//! its defaults shows a picture of each product, not its initial letter. Drawn by this module
//! (flat shapes on a soft background, 480 × 480 pixels, PNG), so they carry no one else's
//! licence and cost nothing to ship.
//!
//! - [`Canvas`] fills shapes with 4 samples a pixel (smooth edges); [`Shape`] is a polygon, an
//!   ellipse, a rounded rectangle or a ring, in coordinates from 0 to 1 across the picture.
//! - [`png`] writes the canvas as an 8-bit RGB PNG (one zlib stream, no row filters), the
//!   format the store takes for product images.
//! - Drawing is deterministic: the same [`Picture`] gives the same bytes.

use std::io::Write as _;

/// The side of a picture, in pixels.
pub const SIZE: usize = 480;

/// What a demo product looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Picture {
    /// A plain T-shirt.
    Tee,
    /// A T-shirt with a yellow ipê flower print.
    TeeIpe,
    /// A T-shirt with navy stripes.
    TeeStriped,
    /// Jeans.
    Jeans,
    /// Linen trousers.
    LinenTrousers,
    Cap,
    Tote,
    Socks,
    Mug,
    Cushion,
    Candle,
    Placemats,
}

type Rgb = [f32; 3];

const fn rgb(hex: u32) -> Rgb {
    [
        ((hex >> 16) & 0xff) as f32,
        ((hex >> 8) & 0xff) as f32,
        (hex & 0xff) as f32,
    ]
}

/// A shape in picture coordinates (0 to 1, y down).
#[derive(Debug, Clone)]
pub enum Shape {
    Poly(Vec<(f32, f32)>),
    Ellipse {
        cx: f32,
        cy: f32,
        rx: f32,
        ry: f32,
    },
    RoundRect {
        x0: f32,
        y0: f32,
        x1: f32,
        y1: f32,
        r: f32,
    },
    Ring {
        cx: f32,
        cy: f32,
        r0: f32,
        r1: f32,
    },
}

impl Shape {
    fn bounds(&self) -> (f32, f32, f32, f32) {
        match self {
            Shape::Poly(pts) => pts.iter().fold(
                (f32::MAX, f32::MAX, f32::MIN, f32::MIN),
                |(a, b, c, d), &(x, y)| (a.min(x), b.min(y), c.max(x), d.max(y)),
            ),
            Shape::Ellipse { cx, cy, rx, ry } => (cx - rx, cy - ry, cx + rx, cy + ry),
            Shape::RoundRect { x0, y0, x1, y1, .. } => (*x0, *y0, *x1, *y1),
            Shape::Ring { cx, cy, r1, .. } => (cx - r1, cy - r1, cx + r1, cy + r1),
        }
    }

    /// Where the horizontal line at `y` is inside the shape: intervals `[x0, x1]`, in order.
    fn spans(&self, y: f32, out: &mut Vec<(f32, f32)>) {
        out.clear();
        match self {
            Shape::Poly(pts) => {
                // The outline's crossings of the line, paired in order (even-odd rule).
                let mut xs: Vec<f32> = Vec::with_capacity(8);
                let mut j = pts.len() - 1;
                for i in 0..pts.len() {
                    let (xi, yi) = pts[i];
                    let (xj, yj) = pts[j];
                    if (yi > y) != (yj > y) {
                        xs.push((xj - xi) * (y - yi) / (yj - yi) + xi);
                    }
                    j = i;
                }
                xs.sort_by(f32::total_cmp);
                out.extend(xs.chunks_exact(2).map(|p| (p[0], p[1])));
            }
            Shape::Ellipse { cx, cy, rx, ry } => {
                if let Some(w) = half_width(*rx, *ry, y - cy) {
                    out.push((cx - w, cx + w));
                }
            }
            Shape::RoundRect { x0, y0, x1, y1, r } => {
                if y < *y0 || y > *y1 {
                    return;
                }
                let dy = (y0 + r - y).max(y - (y1 - r)).max(0.0);
                let inset = r - (r * r - dy * dy).max(0.0).sqrt();
                out.push((x0 + inset, x1 - inset));
            }
            Shape::Ring { cx, cy, r0, r1 } => {
                let Some(outer) = half_width(*r1, *r1, y - cy) else {
                    return;
                };
                match half_width(*r0, *r0, y - cy) {
                    Some(inner) => {
                        out.push((cx - outer, cx - inner));
                        out.push((cx + inner, cx + outer));
                    }
                    None => out.push((cx - outer, cx + outer)),
                }
            }
        }
    }

    #[cfg(test)]
    fn contains(&self, x: f32, y: f32) -> bool {
        let mut spans = Vec::new();
        self.spans(y, &mut spans);
        spans.iter().any(|&(a, b)| a <= x && x <= b)
    }
}

/// Half the width of an ellipse of radii `rx`, `ry` at `dy` from its centre, if it reaches there.
fn half_width(rx: f32, ry: f32, dy: f32) -> Option<f32> {
    let t = dy / ry;
    (t.abs() <= 1.0).then(|| rx * (1.0 - t * t).sqrt())
}

fn ellipse(cx: f32, cy: f32, rx: f32, ry: f32) -> Shape {
    Shape::Ellipse { cx, cy, rx, ry }
}

fn round_rect(x0: f32, y0: f32, x1: f32, y1: f32, r: f32) -> Shape {
    Shape::RoundRect { x0, y0, x1, y1, r }
}

fn ring(cx: f32, cy: f32, r0: f32, r1: f32) -> Shape {
    Shape::Ring { cx, cy, r0, r1 }
}

/// An RGB picture being drawn.
pub struct Canvas {
    px: Vec<Rgb>,
}

impl Canvas {
    /// A canvas with a vertical gradient from `top` to `bottom`.
    fn new(top: Rgb, bottom: Rgb) -> Self {
        let mut px = Vec::with_capacity(SIZE * SIZE);
        for y in 0..SIZE {
            let t = y as f32 / (SIZE - 1) as f32;
            let c = mix(top, bottom, t);
            px.extend(std::iter::repeat_n(c, SIZE));
        }
        Self { px }
    }

    /// Paint `shape` with the colour `paint` gives at each point (picture coordinates).
    fn fill(&mut self, shape: &Shape, paint: &dyn Fn(f32, f32) -> Rgb) {
        self.paint(shape, &|_, _| true, paint, 1.0);
    }

    /// [`Canvas::fill`] only where `clip` holds too.
    fn fill_where(
        &mut self,
        shape: &Shape,
        clip: &dyn Fn(f32, f32) -> bool,
        paint: &dyn Fn(f32, f32) -> Rgb,
    ) {
        self.paint(shape, clip, paint, 1.0);
    }

    /// Paint `shape` where `clip` holds, at `opacity` (0 to 1) over what is there.
    fn paint(
        &mut self,
        shape: &Shape,
        clip: &dyn Fn(f32, f32) -> bool,
        paint: &dyn Fn(f32, f32) -> Rgb,
        opacity: f32,
    ) {
        // Two sample rows a pixel, two samples along each: 4 samples, for smooth edges.
        const SUB: [f32; 2] = [0.25, 0.75];
        let n = SIZE as f32;
        let (_, y0, _, y1) = shape.bounds();
        let py0 = ((y0 * n).floor().max(0.0)) as usize;
        let py1 = ((y1 * n).ceil().min(n)) as usize;
        let mut rows = [Vec::new(), Vec::new()];
        for py in py0..py1 {
            for (row, sy) in rows.iter_mut().zip(SUB) {
                shape.spans((py as f32 + sy) / n, row);
            }
            let (lo, hi) = rows
                .iter()
                .flatten()
                .fold((f32::MAX, f32::MIN), |(lo, hi), &(a, b)| {
                    (lo.min(a), hi.max(b))
                });
            if lo > hi {
                continue;
            }
            let px0 = ((lo * n).floor().max(0.0)) as usize;
            let px1 = ((hi * n).ceil().min(n)) as usize;
            for px in px0..px1 {
                let mut hits = 0;
                for (row, sy) in rows.iter().zip(SUB) {
                    for sx in SUB {
                        let x = (px as f32 + sx) / n;
                        if row.iter().any(|&(a, b)| a <= x && x <= b)
                            && clip(x, (py as f32 + sy) / n)
                        {
                            hits += 1;
                        }
                    }
                }
                if hits == 0 {
                    continue;
                }
                let (x, y) = ((px as f32 + 0.5) / n, (py as f32 + 0.5) / n);
                let at = &mut self.px[py * SIZE + px];
                *at = mix(*at, paint(x, y), opacity * hits as f32 / 4.0);
            }
        }
    }

    fn solid(&mut self, shape: &Shape, color: Rgb) {
        self.fill(shape, &|_, _| color);
    }

    /// A soft shadow under an object standing at `cy`.
    fn shadow(&mut self, cx: f32, cy: f32, rx: f32) {
        for (grow, opacity) in [(1.25, 0.05), (1.1, 0.07), (1.0, 0.09)] {
            let shape = Shape::Ellipse {
                cx,
                cy,
                rx: rx * grow,
                ry: rx * grow * 0.16,
            };
            self.paint(&shape, &|_, _| true, &|_, _| [0.0; 3], opacity);
        }
    }
}

fn mix(a: Rgb, b: Rgb, t: f32) -> Rgb {
    [
        a[0] + (b[0] - a[0]) * t,
        a[1] + (b[1] - a[1]) * t,
        a[2] + (b[2] - a[2]) * t,
    ]
}

/// `c` lit from the top: a little lighter above, darker below.
fn shaded(c: Rgb, y: f32, y0: f32, y1: f32) -> Rgb {
    let t = ((y - y0) / (y1 - y0)).clamp(0.0, 1.0);
    let k = 1.06 - 0.16 * t;
    [
        (c[0] * k).min(255.0),
        (c[1] * k).min(255.0),
        (c[2] * k).min(255.0),
    ]
}

/// The picture `what` as PNG bytes.
pub fn draw(what: Picture) -> Vec<u8> {
    png(&canvas(what))
}

fn canvas(what: Picture) -> Canvas {
    let background = match what {
        Picture::Tee | Picture::TeeIpe | Picture::TeeStriped => (rgb(0xeef3ee), rgb(0xd9e4dc)),
        Picture::Jeans | Picture::LinenTrousers => (rgb(0xf3efe8), rgb(0xe2dacd)),
        Picture::Cap | Picture::Tote | Picture::Socks => (rgb(0xf1eef5), rgb(0xdcd6e4)),
        _ => (rgb(0xf6f1e9), rgb(0xe6dccb)),
    };
    let mut c = Canvas::new(background.0, background.1);
    match what {
        Picture::Tee => tee(&mut c, rgb(0xf7f7f4), None),
        Picture::TeeIpe => tee(&mut c, rgb(0xfbf8ef), Some(Print::Ipe)),
        Picture::TeeStriped => tee(&mut c, rgb(0xffffff), Some(Print::Stripes)),
        Picture::Jeans => trousers(&mut c, rgb(0x3d5a80), rgb(0xc9a227)),
        Picture::LinenTrousers => trousers(&mut c, rgb(0xd8c7a8), rgb(0xb9a583)),
        Picture::Cap => cap(&mut c),
        Picture::Tote => tote(&mut c),
        Picture::Socks => socks(&mut c),
        Picture::Mug => mug(&mut c),
        Picture::Cushion => cushion(&mut c),
        Picture::Candle => candle(&mut c),
        Picture::Placemats => placemats(&mut c),
    }
    c
}

enum Print {
    Ipe,
    Stripes,
}

fn tee(c: &mut Canvas, cloth: Rgb, print: Option<Print>) {
    c.shadow(0.5, 0.88, 0.3);
    let shirt = vec![
        (0.38, 0.16),
        (0.44, 0.2),
        (0.5, 0.215),
        (0.56, 0.2),
        (0.62, 0.16),
        (0.8, 0.24),
        (0.88, 0.4),
        (0.76, 0.45),
        (0.72, 0.38),
        (0.72, 0.86),
        (0.28, 0.86),
        (0.28, 0.38),
        (0.24, 0.45),
        (0.12, 0.4),
        (0.2, 0.24),
    ];
    // The seams: the same outline, a little larger, under the cloth.
    let outline = Shape::Poly(
        shirt
            .iter()
            .map(|&(x, y)| (0.5 + (x - 0.5) * 1.012, 0.5 + (y - 0.5) * 1.012))
            .collect(),
    );
    let body = Shape::Poly(shirt);
    c.solid(&outline, rgb(0xaab3ad));
    match print {
        Some(Print::Stripes) => {
            let navy = rgb(0x1d3557);
            c.fill(&body, &|x, y| {
                let band = ((y - 0.16) / 0.055).floor() as i32;
                let base = if band % 2 == 0 { navy } else { cloth };
                shaded(base, y + (x - 0.5).abs() * 0.1, 0.16, 0.9)
            });
        }
        _ => c.fill(&body, &|_, y| shaded(cloth, y, 0.16, 0.9)),
    }
    // The neckline: the back of the collar inside, the collar's rib around it.
    let below_shoulders = |_: f32, y: f32| y > 0.158;
    c.fill_where(
        &ellipse(0.5, 0.155, 0.07, 0.065),
        &below_shoulders,
        &|_, _| shaded(cloth, 0.6, 0.0, 1.0),
    );
    c.fill_where(
        &ring(0.5, 0.155, 0.058, 0.072),
        &below_shoulders,
        &|_, _| rgb(0xc8cec9),
    );
    if let Some(Print::Ipe) = print {
        // An ipê branch: yellow flowers around a brown stem.
        c.solid(
            &Shape::Poly(vec![(0.4, 0.66), (0.415, 0.66), (0.6, 0.36), (0.585, 0.36)]),
            rgb(0x6b4f3a),
        );
        let flowers = [
            (0.58, 0.36, 0.05),
            (0.52, 0.42, 0.045),
            (0.62, 0.44, 0.04),
            (0.47, 0.5, 0.05),
            (0.55, 0.52, 0.035),
            (0.43, 0.58, 0.04),
        ];
        for (i, &(x, y, r)) in flowers.iter().enumerate() {
            let petal = if i % 2 == 0 {
                rgb(0xf2c230)
            } else {
                rgb(0xe9a91b)
            };
            c.solid(&ellipse(x, y, r, r * 0.9), petal);
            c.solid(&ellipse(x, y, r * 0.3, r * 0.3), rgb(0x8a5a12));
        }
    }
}

fn trousers(c: &mut Canvas, cloth: Rgb, stitch: Rgb) {
    c.shadow(0.5, 0.93, 0.26);
    let legs = Shape::Poly(vec![
        (0.32, 0.1),
        (0.68, 0.1),
        (0.74, 0.9),
        (0.56, 0.9),
        (0.5, 0.34),
        (0.44, 0.9),
        (0.26, 0.9),
    ]);
    c.fill(&legs, &|x, y| {
        let fold = 1.0 - 0.05 * ((x * 40.0).sin() * 0.5 + 0.5);
        let s = shaded(cloth, y, 0.1, 0.9);
        [s[0] * fold, s[1] * fold, s[2] * fold]
    });
    // Waistband, fly and pockets' stitching.
    let band = Shape::Poly(vec![(0.32, 0.1), (0.68, 0.1), (0.683, 0.15), (0.317, 0.15)]);
    c.fill(&band, &|_, y| shaded(cloth, y, 0.0, 0.6));
    c.solid(
        &Shape::Poly(vec![
            (0.317, 0.152),
            (0.683, 0.152),
            (0.683, 0.158),
            (0.317, 0.158),
        ]),
        stitch,
    );
    c.solid(
        &Shape::Poly(vec![
            (0.497, 0.16),
            (0.503, 0.16),
            (0.503, 0.3),
            (0.497, 0.3),
        ]),
        stitch,
    );
    for (x0, x1) in [(0.33, 0.4), (0.6, 0.67)] {
        c.solid(
            &Shape::Poly(vec![
                (x0, 0.17),
                (x0 + 0.006, 0.17),
                (x1, 0.26),
                (x1 - 0.006, 0.26),
            ]),
            stitch,
        );
    }
    c.solid(&ellipse(0.5, 0.125, 0.012, 0.012), rgb(0xb08d57));
}

fn cap(c: &mut Canvas) {
    c.shadow(0.5, 0.72, 0.3);
    let crown = rgb(0x2b2d2f);
    c.fill_where(&ellipse(0.47, 0.6, 0.25, 0.27), &|_, y| y < 0.6, &|_, y| {
        shaded(crown, y, 0.33, 0.6)
    });
    c.fill(
        &Shape::Poly(vec![
            (0.6, 0.56),
            (0.86, 0.62),
            (0.88, 0.66),
            (0.6, 0.64),
            (0.22, 0.62),
            (0.22, 0.58),
        ]),
        &|_, y| shaded(rgb(0x3a3d40), y, 0.55, 0.68),
    );
    for x in [0.4, 0.55] {
        c.solid(
            &Shape::Poly(vec![
                (x, 0.34),
                (x + 0.004, 0.34),
                (x + 0.02, 0.59),
                (x + 0.016, 0.59),
            ]),
            rgb(0x45494d),
        );
    }
    c.solid(&ellipse(0.47, 0.335, 0.02, 0.012), rgb(0x45494d));
}

fn tote(c: &mut Canvas) {
    c.shadow(0.5, 0.9, 0.28);
    let canvas_color = rgb(0xe8dcc2);
    c.solid(&ring(0.5, 0.36, 0.14, 0.165), rgb(0x8c6d46));
    c.fill(
        &Shape::Poly(vec![(0.24, 0.36), (0.76, 0.36), (0.8, 0.88), (0.2, 0.88)]),
        &|x, y| {
            let weave = 1.0 - 0.03 * (((x * 160.0).sin() * (y * 160.0).sin()) * 0.5 + 0.5);
            let s = shaded(canvas_color, y, 0.36, 0.88);
            [s[0] * weave, s[1] * weave, s[2] * weave]
        },
    );
    c.solid(
        &Shape::Poly(vec![
            (0.24, 0.36),
            (0.76, 0.36),
            (0.762, 0.39),
            (0.238, 0.39),
        ]),
        rgb(0xd1c2a3),
    );
    c.solid(&round_rect(0.38, 0.5, 0.62, 0.66, 0.01), rgb(0x0a5c36));
}

fn socks(c: &mut Canvas) {
    c.shadow(0.5, 0.9, 0.3);
    for (dx, body) in [(-0.12, rgb(0x8d99ae)), (0.1, rgb(0x9fabc0))] {
        let sock = Shape::Poly(vec![
            (0.36 + dx, 0.14),
            (0.52 + dx, 0.14),
            (0.52 + dx, 0.62),
            (0.66 + dx, 0.78),
            (0.64 + dx, 0.88),
            (0.46 + dx, 0.88),
            (0.36 + dx, 0.72),
        ]);
        c.fill(&sock, &|_, y| {
            let top = if y < 0.24 && ((y - 0.14) / 0.025).floor() as i32 % 2 == 0 {
                rgb(0xe63946)
            } else {
                body
            };
            shaded(top, y, 0.14, 0.9)
        });
        c.solid(&ellipse(0.56 + dx, 0.84, 0.07, 0.045), rgb(0x6c7689));
    }
}

fn mug(c: &mut Canvas) {
    c.shadow(0.47, 0.8, 0.24);
    let glaze = rgb(0x2f6690);
    c.solid(&ring(0.69, 0.52, 0.07, 0.11), rgb(0x2a5b80));
    c.fill(&round_rect(0.26, 0.3, 0.68, 0.8, 0.04), &|x, y| {
        let side = 1.0 - 0.25 * ((x - 0.42).abs() / 0.26);
        let s = shaded(glaze, y, 0.3, 0.8);
        [s[0] * side, s[1] * side, s[2] * side]
    });
    c.solid(&ellipse(0.47, 0.3, 0.21, 0.04), rgb(0x1f3f5b));
    // The unglazed foot.
    c.solid(
        &Shape::Poly(vec![(0.27, 0.76), (0.67, 0.76), (0.67, 0.8), (0.27, 0.8)]),
        rgb(0xc9a27e),
    );
}

fn cushion(c: &mut Canvas) {
    c.shadow(0.5, 0.86, 0.34);
    let linen = rgb(0xd9c9a8);
    c.fill(
        &Shape::Poly(vec![
            (0.16, 0.2),
            (0.5, 0.24),
            (0.84, 0.2),
            (0.8, 0.52),
            (0.84, 0.84),
            (0.5, 0.8),
            (0.16, 0.84),
            (0.2, 0.52),
        ]),
        &|x, y| {
            let d = ((x - 0.5).powi(2) + (y - 0.52).powi(2)).sqrt();
            let puff = 1.05 - 0.35 * d;
            let s = shaded(linen, y, 0.2, 0.84);
            [s[0] * puff, s[1] * puff, s[2] * puff]
        },
    );
    c.solid(&ellipse(0.5, 0.52, 0.02, 0.02), rgb(0xa08c68));
}

fn candle(c: &mut Canvas) {
    c.shadow(0.5, 0.84, 0.2);
    c.solid(&ellipse(0.5, 0.26, 0.05, 0.09), rgb(0xffd166));
    c.solid(&ellipse(0.5, 0.29, 0.025, 0.05), rgb(0xf77f00));
    c.solid(
        &Shape::Poly(vec![
            (0.497, 0.33),
            (0.503, 0.33),
            (0.503, 0.4),
            (0.497, 0.4),
        ]),
        rgb(0x333333),
    );
    c.fill(&round_rect(0.34, 0.38, 0.66, 0.84, 0.03), &|x, y| {
        let s = shaded(rgb(0x6f4e37), y, 0.38, 0.84);
        let glass = 1.0 + 0.15 * (1.0 - ((x - 0.4).abs() / 0.06).min(1.0));
        [s[0] * glass, s[1] * glass, s[2] * glass]
    });
    c.solid(&ellipse(0.5, 0.4, 0.15, 0.025), rgb(0xf1e3c8));
    c.solid(&round_rect(0.38, 0.56, 0.62, 0.68, 0.01), rgb(0xf6efe2));
}

fn placemats(c: &mut Canvas) {
    let mustard = rgb(0xd4a017);
    for (i, (dx, dy)) in [(0.06, 0.08), (0.0, 0.0)].into_iter().enumerate() {
        c.shadow(0.5 + dx, 0.8 + dy, 0.34);
        let mat = round_rect(0.14 + dx, 0.26 + dy, 0.8 + dx, 0.76 + dy, 0.02);
        c.fill(&mat, &|x, y| {
            let stripe = ((x - 0.14 - dx) / 0.03).floor() as i32 % 3 == 0;
            let base = if i == 0 { rgb(0xe9dfc8) } else { mustard };
            let s = shaded(base, y, 0.26, 0.8);
            if stripe {
                [s[0] * 0.9, s[1] * 0.9, s[2] * 0.9]
            } else {
                s
            }
        });
    }
}

/// `canvas` as an RGB PNG (PNG specification, ISO/IEC 15948: signature, IHDR, one IDAT of the
/// zlib-compressed rows each after its filter byte 0, IEND; every chunk with its CRC-32).
pub fn png(canvas: &Canvas) -> Vec<u8> {
    let mut raw = Vec::with_capacity(SIZE * (SIZE * 3 + 1));
    for row in canvas.px.chunks(SIZE) {
        raw.push(0);
        for p in row {
            raw.extend(p.map(|v| v.round().clamp(0.0, 255.0) as u8));
        }
    }
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = z.write_all(&raw);
    let data = z.finish().unwrap_or_default();

    let mut out = b"\x89PNG\r\n\x1a\n".to_vec();
    let side = u32::try_from(SIZE).unwrap_or(u32::MAX).to_be_bytes();
    let mut ihdr = Vec::with_capacity(13);
    ihdr.extend(side);
    ihdr.extend(side);
    // 8 bits a sample, colour type 2 (RGB), deflate, filter method 0, no interlace.
    ihdr.extend([8, 2, 0, 0, 0]);
    for (kind, body) in [
        (b"IHDR", &ihdr[..]),
        (b"IDAT", &data[..]),
        (b"IEND", &[][..]),
    ] {
        out.extend(u32::try_from(body.len()).unwrap_or(u32::MAX).to_be_bytes());
        let mut crc = crc32fast::Hasher::new();
        crc.update(kind);
        crc.update(body);
        out.extend(kind);
        out.extend(body);
        out.extend(crc.finalize().to_be_bytes());
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_picture_is_a_png_of_its_size_and_always_the_same() {
        let a = draw(Picture::Mug);
        assert!(a.starts_with(b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"));
        assert_eq!(&a[16..24], &[0, 0, 1, 224, 0, 0, 1, 224], "480 x 480");
        assert!(
            a.ends_with(b"IEND\xaeB`\x82"),
            "the IEND chunk with its CRC"
        );
        assert_eq!(a, draw(Picture::Mug));
        assert!(a.len() < 64 * 1024, "{} bytes", a.len());
    }

    #[test]
    fn each_product_looks_different() {
        let all = [
            Picture::Tee,
            Picture::TeeIpe,
            Picture::TeeStriped,
            Picture::Jeans,
            Picture::LinenTrousers,
            Picture::Cap,
            Picture::Tote,
            Picture::Socks,
            Picture::Mug,
            Picture::Cushion,
            Picture::Candle,
            Picture::Placemats,
        ];
        let drawn: std::collections::BTreeSet<Vec<u8>> = all.iter().map(|&p| draw(p)).collect();
        assert_eq!(drawn.len(), all.len());
    }

    #[test]
    fn shapes_cover_what_they_should() {
        let tri = Shape::Poly(vec![(0.0, 0.0), (1.0, 0.0), (0.0, 1.0)]);
        assert!(tri.contains(0.2, 0.2));
        assert!(!tri.contains(0.8, 0.8));
        let ring = ring(0.5, 0.5, 0.2, 0.3);
        assert!(ring.contains(0.75, 0.5));
        assert!(!ring.contains(0.5, 0.5));
        let rr = round_rect(0.0, 0.0, 1.0, 1.0, 0.2);
        assert!(rr.contains(0.5, 0.01));
        assert!(!rr.contains(0.01, 0.01), "the corner is rounded off");
    }
}
