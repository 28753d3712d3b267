//! Layout and drawing: portrait A4 in millimetres (origin top-left, y down), 5 mm margins.
//!
//! Sheet 1: canhoto, header (emitter, DANFE box, barcode and key), natureza/protocol, IE/CNPJ,
//! recipient, fatura/duplicatas, taxes, transport, items, dados adicionais. Later sheets: the
//! header, natureza/protocol, IE/CNPJ, then items; the rest of `infCpl` at their foot.
//! Sizes follow the manual's minimums as the notes quote them: block titles bold 6 pt, field
//! labels 6 pt (shrunk towards 5 pt only where nine tax boxes share a row), items table headers
//! 5 pt, "DANFE" bold 12 pt, number/série/folha and the entry/exit digit bold 10 pt.

use krilla::Document;
use krilla::color::luma;
use krilla::geom::{PathBuilder, Point, Rect, Transform};
use krilla::metadata::Metadata;
use krilla::num::NormalizedF32;
use krilla::page::PageSettings;
use krilla::paint::{Fill, Stroke, StrokeDash};
use krilla::surface::Surface;
use krilla::text::{Font, TextDirection};
use skrifa::instance::{LocationRef, Size};
use skrifa::{FontRef, MetadataProvider};

use super::format as f;
use super::read::{Item, Nfe};
use super::{DanfeError, Standing, code128};

const REGULAR_TTF: &[u8] = include_bytes!("../../fonts/LiberationSerif-Regular.ttf");
const BOLD_TTF: &[u8] = include_bytes!("../../fonts/LiberationSerif-Bold.ttf");

const PAGE_W: f32 = 210.0;
const PAGE_H: f32 = 297.0;
const LEFT: f32 = 5.0;
const RIGHT: f32 = 205.0;
const WIDTH: f32 = RIGHT - LEFT;
/// Where sheet content ends (the status line goes below).
const BOTTOM: f32 = 288.0;
const ROW: f32 = 7.0;
const TITLE: f32 = 3.6;
/// Field labels (the manual: caps, at least 6 pt).
const LABEL_PT: f32 = 6.0;
/// Items table headers (the manual: caps, at least 5 pt).
const TABLE_LABEL_PT: f32 = 5.0;
const VALUE_PT: f32 = 7.5;
const ITEM_PT: f32 = 6.0;
const ITEM_LINE: f32 = 2.5;
const INFO_PT: f32 = 6.5;
const INFO_LINE: f32 = 2.7;
/// Height of the dados adicionais box (below its title).
const INFO_BOX: f32 = 26.0;
/// Module width of the barcode.
const MODULE: f32 = 0.26;

fn pt(mm: f32) -> f32 {
    mm * 72.0 / 25.4
}

/// A font for drawing (krilla) and for measuring (skrifa).
struct Face {
    font: Font,
    measure: FontRef<'static>,
    units_per_em: f32,
}

impl Face {
    fn new(bytes: &'static [u8]) -> Result<Face, DanfeError> {
        let font = Font::new(bytes.into(), 0)
            .ok_or_else(|| DanfeError::Pdf("the embedded font cannot be read".into()))?;
        let measure = FontRef::new(bytes)
            .map_err(|e| DanfeError::Pdf(format!("the embedded font cannot be read: {e}")))?;
        let units_per_em = f32::from(
            measure
                .metrics(Size::unscaled(), LocationRef::default())
                .units_per_em,
        );
        Ok(Face {
            font,
            measure,
            units_per_em,
        })
    }

    /// Width of `text` in millimetres at `size` points (advances, no kerning).
    fn width(&self, text: &str, size: f32) -> f32 {
        let charmap = self.measure.charmap();
        let metrics = self
            .measure
            .glyph_metrics(Size::unscaled(), LocationRef::default());
        let units: f32 = text
            .chars()
            .map(|c| {
                let glyph = charmap.map(c).unwrap_or_default();
                metrics.advance_width(glyph).unwrap_or(0.0)
            })
            .sum();
        units / self.units_per_em * size * 25.4 / 72.0
    }

    /// `text` cut (with "…") to fit `width`.
    fn fit(&self, text: &str, size: f32, width: f32) -> String {
        if self.width(text, size) <= width {
            return text.to_owned();
        }
        let room = width - self.width("…", size);
        let mut used = 0.0;
        let mut out = String::new();
        for ch in text.chars() {
            used += self.width(ch.encode_utf8(&mut [0; 4]), size);
            if used > room {
                break;
            }
            out.push(ch);
        }
        format!("{}…", out.trim_end())
    }

    /// `text` broken into lines of at most `width` (at spaces; a longer word is cut).
    fn wrap(&self, text: &str, size: f32, width: f32) -> Vec<String> {
        let mut lines = Vec::new();
        for paragraph in text.split('\n') {
            let mut line = String::new();
            for word in paragraph.split_whitespace() {
                let candidate = if line.is_empty() {
                    word.to_owned()
                } else {
                    format!("{line} {word}")
                };
                if self.width(&candidate, size) <= width {
                    line = candidate;
                    continue;
                }
                if !line.is_empty() {
                    lines.push(std::mem::take(&mut line));
                }
                // A word longer than the line is cut into pieces.
                let mut piece = String::new();
                for ch in word.chars() {
                    piece.push(ch);
                    if self.width(&piece, size) > width && piece.chars().count() > 1 {
                        piece.pop();
                        lines.push(std::mem::take(&mut piece));
                        piece.push(ch);
                    }
                }
                line = piece;
            }
            if !line.is_empty() {
                lines.push(line);
            }
        }
        lines
    }
}

struct Fonts {
    regular: Face,
    bold: Face,
}

impl Fonts {
    fn face(&self, bold: bool) -> &Face {
        if bold { &self.bold } else { &self.regular }
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Align {
    Left,
    Center,
    Right,
}

/// One sheet being drawn.
struct Sheet<'s, 'p> {
    surface: &'s mut Surface<'p>,
    fonts: &'s Fonts,
}

impl Sheet<'_, '_> {
    fn stroke(&mut self, width: f32, dash: bool) {
        self.surface.set_fill(None);
        self.surface.set_stroke(Some(Stroke {
            width,
            dash: dash.then(|| StrokeDash {
                array: vec![pt(1.0), pt(0.8)],
                offset: 0.0,
            }),
            ..Stroke::default()
        }));
    }

    fn black_fill(&mut self) {
        self.surface.set_stroke(None);
        self.surface.set_fill(Some(Fill::default()));
    }

    fn rect(&mut self, x: f32, y: f32, w: f32, h: f32) {
        if let Some(rect) = Rect::from_xywh(pt(x), pt(y), pt(w), pt(h)) {
            let mut path = PathBuilder::new();
            path.push_rect(rect);
            if let Some(path) = path.finish() {
                self.stroke(0.6, false);
                self.surface.draw_path(&path);
            }
        }
    }

    fn filled(&mut self, x: f32, y: f32, w: f32, h: f32) {
        if let Some(rect) = Rect::from_xywh(pt(x), pt(y), pt(w), pt(h)) {
            let mut path = PathBuilder::new();
            path.push_rect(rect);
            if let Some(path) = path.finish() {
                self.black_fill();
                self.surface.draw_path(&path);
            }
        }
    }

    fn line(&mut self, x1: f32, y1: f32, x2: f32, y2: f32, width: f32, dash: bool) {
        let mut path = PathBuilder::new();
        path.move_to(pt(x1), pt(y1));
        path.line_to(pt(x2), pt(y2));
        if let Some(path) = path.finish() {
            self.stroke(width, dash);
            self.surface.draw_path(&path);
        }
    }

    /// Text with its baseline at `y`; `x` is the left edge, centre or right edge per `align`.
    fn text(&mut self, x: f32, y: f32, size: f32, bold: bool, align: Align, text: &str) {
        if text.is_empty() {
            return;
        }
        let face = self.fonts.face(bold);
        let width = face.width(text, size);
        let left = match align {
            Align::Left => x,
            Align::Center => x - width / 2.0,
            Align::Right => x - width,
        };
        self.black_fill();
        self.surface.draw_text(
            Point::from_xy(pt(left), pt(y)),
            face.font.clone(),
            size,
            text,
            false,
            TextDirection::LeftToRight,
        );
    }

    /// A field box: caps label in the top-left corner, value below, cut to fit.
    fn field(&mut self, x: f32, y: f32, w: f32, label: &str, value: &str, align: Align) {
        self.field_sized(x, y, w, ROW, label, value, align, VALUE_PT, false);
    }

    #[allow(
        clippy::too_many_arguments,
        reason = "a box, its texts and their style"
    )]
    fn field_sized(
        &mut self,
        x: f32,
        y: f32,
        w: f32,
        h: f32,
        label: &str,
        value: &str,
        align: Align,
        size: f32,
        bold: bool,
    ) {
        self.rect(x, y, w, h);
        // A label too long for its box at 6 pt shrinks, down to 5 pt, then is cut.
        let natural = self.fonts.regular.width(label, LABEL_PT);
        let label_pt = if natural > w - 1.0 {
            (LABEL_PT * (w - 1.0) / natural).max(TABLE_LABEL_PT)
        } else {
            LABEL_PT
        };
        let label = self.fonts.regular.fit(label, label_pt, w - 1.0);
        self.text(x + 0.6, y + 2.4, label_pt, false, Align::Left, &label);
        let value = self.fonts.face(bold).fit(value, size, w - 1.4);
        let vx = match align {
            Align::Left => x + 0.8,
            Align::Center => x + w / 2.0,
            Align::Right => x + w - 0.8,
        };
        self.text(vx, y + h - 1.4, size, bold, align, &value);
    }

    /// A block title above its boxes.
    fn title(&mut self, y: f32, text: &str) {
        self.text(LEFT + 0.3, y + TITLE - 0.9, 6.0, true, Align::Left, text);
    }
}

/// Text pieces of the items table, per row.
struct ItemRow {
    code: Vec<String>,
    description: Vec<String>,
    height: f32,
}

/// Items table columns: header, width, alignment.
const COLUMNS: [(&str, f32, Align); 15] = [
    ("CÓDIGO PRODUTO", 16.0, Align::Left),
    ("DESCRIÇÃO DO PRODUTO / SERVIÇO", 55.0, Align::Left),
    ("NCM/SH", 12.0, Align::Center),
    ("O/CST", 9.0, Align::Center),
    ("CFOP", 8.0, Align::Center),
    ("UN", 7.0, Align::Center),
    ("QUANT.", 12.0, Align::Right),
    ("VALOR UNIT.", 13.0, Align::Right),
    ("VALOR TOTAL", 13.0, Align::Right),
    ("VALOR DESC.", 11.0, Align::Right),
    ("B.CÁLC. ICMS", 12.0, Align::Right),
    ("VALOR ICMS", 10.0, Align::Right),
    ("VALOR IPI", 9.0, Align::Right),
    ("ALÍQ. ICMS", 7.0, Align::Right),
    ("ALÍQ. IPI", 6.0, Align::Right),
];
const TABLE_HEADER: f32 = 5.6;

/// What goes on one sheet.
struct Plan {
    /// Whether the sheet has the items table (sheet 1, and while items remain).
    table: bool,
    items: std::ops::Range<usize>,
    info: std::ops::Range<usize>,
    /// Height of the dados adicionais box, 0 for none.
    info_box: f32,
}

/// How many lines of additional information a box of `height` holds.
fn info_capacity(height: f32) -> usize {
    ((height - 3.0) / INFO_LINE).floor().max(0.0) as usize
}

/// Top of the header block on sheet 1 (below the canhoto) and on later sheets.
const HEADER_TOP_FIRST: f32 = 26.0;
const HEADER_TOP_NEXT: f32 = 5.0;
/// Header (32) + natureza/protocol row + IE/CNPJ row.
const HEADER_HEIGHT: f32 = 32.0 + 2.0 * ROW;

fn first_sheet_blocks_height(nfe: &Nfe) -> f32 {
    let recipient = TITLE + 3.0 * ROW;
    let billing = billing_height(nfe);
    let taxes = TITLE + 2.0 * ROW;
    let transport = TITLE + 3.0 * ROW;
    recipient + billing + taxes + transport
}

fn billing_height(nfe: &Nfe) -> f32 {
    match &nfe.billing {
        None => 0.0,
        Some(b) => {
            let rows = b.installments.len().div_ceil(DUPS_PER_ROW);
            TITLE
                + if b.number.is_empty() && b.original.is_empty() {
                    0.0
                } else {
                    5.0
                }
                + rows as f32 * 8.0
        }
    }
}

const DUPS_PER_ROW: usize = 8;

pub(super) fn draw(nfe: &Nfe) -> Result<Vec<u8>, DanfeError> {
    let fonts = Fonts {
        regular: Face::new(REGULAR_TTF)?,
        bold: Face::new(BOLD_TTF)?,
    };
    let barcode = code128::encode_key(&nfe.key)?;
    let standing = Standing::of(nfe);

    // Items: lines per row.
    let desc_width = COLUMNS[1].1 - 1.2;
    let code_width = COLUMNS[0].1 - 1.2;
    let rows: Vec<ItemRow> = nfe
        .items
        .iter()
        .map(|item| {
            let mut description = fonts.regular.wrap(&item.description, ITEM_PT, desc_width);
            if !item.extra.is_empty() {
                description.extend(fonts.regular.wrap(&item.extra, ITEM_PT, desc_width));
            }
            let code = fonts.regular.wrap(&item.code, ITEM_PT, code_width);
            let lines = description.len().max(code.len()).max(1);
            ItemRow {
                code,
                description,
                height: lines as f32 * ITEM_LINE + 1.2,
            }
        })
        .collect();

    // Additional information: infCpl, then infAdFisco.
    let mut info_text = nfe.complementary.replace(';', "; ");
    if !nfe.fisco.is_empty() {
        info_text = format!(
            "{}\nINFORMAÇÕES ADICIONAIS DE INTERESSE DO FISCO: {}",
            info_text.trim(),
            nfe.fisco
        );
    }
    let info_lines = fonts.regular.wrap(info_text.trim(), INFO_PT, 135.0 - 1.6);

    // Sheets: items and info lines per sheet.
    let table_top_first =
        HEADER_TOP_FIRST + HEADER_HEIGHT + first_sheet_blocks_height(nfe) + TITLE + TABLE_HEADER;
    let table_top_next = HEADER_TOP_NEXT + HEADER_HEIGHT + TITLE + TABLE_HEADER;
    let mut plans = Vec::new();
    let mut next_item = 0;
    let mut next_info = 0;
    while plans.is_empty() || next_item < rows.len() || next_info < info_lines.len() {
        let first = plans.is_empty();
        let table = first || next_item < rows.len();
        // Sheet 1 always has the dados adicionais box; later sheets while infCpl goes on, the
        // whole sheet below the header once no item is left.
        let info_box = if first || (table && next_info < info_lines.len()) {
            INFO_BOX
        } else if next_info < info_lines.len() {
            BOTTOM - TITLE - (HEADER_TOP_NEXT + HEADER_HEIGHT)
        } else {
            0.0
        };
        let info_end = (next_info + info_capacity(info_box)).min(info_lines.len());
        let top = if first {
            table_top_first
        } else {
            table_top_next
        };
        let bottom = table_bottom(info_box);
        let start = next_item;
        let mut y = top;
        while table
            && next_item < rows.len()
            && (y + rows[next_item].height <= bottom || next_item == start && info_box == 0.0)
        {
            y += rows[next_item].height;
            next_item += 1;
        }
        plans.push(Plan {
            table,
            items: start..next_item,
            info: next_info..info_end,
            info_box,
        });
        next_info = info_end;
    }

    let mut document = Document::new();
    document.set_metadata(
        Metadata::new()
            .title(format!(
                "DANFE NF-e {} série {} chave {}",
                f::number(&nfe.number),
                f::series(&nfe.series),
                nfe.key
            ))
            .creator("vitrine-nfe".into())
            .language("pt-BR".into()),
    );
    let pages = plans.len();
    for (index, plan) in plans.iter().enumerate() {
        let settings = PageSettings::from_wh(pt(PAGE_W), pt(PAGE_H))
            .ok_or_else(|| DanfeError::Pdf("page size".into()))?;
        let mut page = document.start_page_with(settings);
        let mut surface = page.surface();
        let mut sheet = Sheet {
            surface: &mut surface,
            fonts: &fonts,
        };
        let first = index == 0;
        let header_top = if first {
            HEADER_TOP_FIRST
        } else {
            HEADER_TOP_NEXT
        };
        let table_top = if first {
            table_top_first
        } else {
            table_top_next
        };
        let bottom = table_bottom(plan.info_box);
        if let Some(mark) = standing.watermark() {
            let middle = if plan.table {
                (table_top + bottom) / 2.0
            } else {
                (table_top + BOTTOM) / 2.0
            };
            watermark(&mut sheet, mark, middle);
        }
        if first {
            canhoto(&mut sheet, nfe);
        }
        header(&mut sheet, nfe, &barcode, header_top, index + 1, pages);
        let mut y = header_top + HEADER_HEIGHT;
        if first {
            y = recipient(&mut sheet, nfe, y);
            y = billing(&mut sheet, nfe, y);
            y = taxes(&mut sheet, nfe, y);
            y = transport(&mut sheet, nfe, y);
        }
        if plan.table {
            items_table(&mut sheet, nfe, &rows, plan.items.clone(), y, bottom);
        }
        if plan.info_box > 0.0 {
            additional(
                &mut sheet,
                &info_lines[plan.info.clone()],
                bottom,
                plan.info_box,
                !first,
            );
        }
        if let Some(notice) = standing.notice(&nfe.environment) {
            sheet.text(
                PAGE_W / 2.0,
                BOTTOM + 4.0,
                8.0,
                true,
                Align::Center,
                &notice,
            );
        }
        surface.finish();
        page.finish();
    }
    document
        .finish()
        .map_err(|e| DanfeError::Pdf(format!("{e:?}")))
}

/// The big grey mark across the items area, drawn first (under everything) as outlines, so it
/// does not mix with the extractable text (the status line below carries the words).
fn watermark(sheet: &mut Sheet<'_, '_>, mark: &str, center_y: f32) {
    let size = 54.0;
    let face = &sheet.fonts.bold;
    let width = face.width(mark, size);
    // Rotate by 20° (rising to the right) about the centre of the items area.
    let (sin, cos) = (-20.0_f32).to_radians().sin_cos();
    sheet.surface.push_transform(&Transform::from_row(
        cos,
        sin,
        -sin,
        cos,
        pt(PAGE_W / 2.0),
        pt(center_y),
    ));
    sheet.surface.set_stroke(None);
    sheet.surface.set_fill(Some(Fill {
        paint: luma::Color::new(215).into(),
        opacity: NormalizedF32::ONE,
        rule: Default::default(),
    }));
    // Baseline a third of the size below the centre line: capitals centred on it.
    sheet.surface.draw_text(
        Point::from_xy(-pt(width) / 2.0, size / 3.0),
        face.font.clone(),
        size,
        mark,
        true,
        TextDirection::LeftToRight,
    );
    sheet.surface.pop();
}

fn canhoto(sheet: &mut Sheet<'_, '_>, nfe: &Nfe) {
    let (emitted, _) = f::date_time(&nfe.issued_at).unwrap_or_default();
    let text = format!(
        "RECEBEMOS DE {} OS PRODUTOS E/OU SERVIÇOS CONSTANTES DA NOTA FISCAL ELETRÔNICA INDICADA ABAIXO. EMISSÃO: {} VALOR TOTAL: R$ {} DESTINATÁRIO: {}",
        nfe.emitter.name,
        emitted,
        f::money(&nfe.totals.v_nf),
        nfe.recipient.name
    );
    sheet.rect(LEFT, 5.0, 160.0, 9.0);
    let lines = sheet.fonts.regular.wrap(&text, 6.0, 158.0);
    for (i, line) in lines.iter().take(3).enumerate() {
        sheet.text(
            LEFT + 0.8,
            7.6 + i as f32 * 2.5,
            6.0,
            false,
            Align::Left,
            line,
        );
    }
    sheet.field(LEFT, 14.0, 40.0, "DATA DE RECEBIMENTO", "", Align::Left);
    sheet.field(
        LEFT + 40.0,
        14.0,
        120.0,
        "IDENTIFICAÇÃO E ASSINATURA DO RECEBEDOR",
        "",
        Align::Left,
    );
    sheet.rect(165.0, 5.0, 40.0, 16.0);
    sheet.text(185.0, 9.5, 10.0, true, Align::Center, "NF-e");
    sheet.text(
        185.0,
        14.0,
        10.0,
        true,
        Align::Center,
        &format!("Nº {}", f::number(&nfe.number)),
    );
    sheet.text(
        185.0,
        18.5,
        10.0,
        true,
        Align::Center,
        &format!("SÉRIE {}", f::series(&nfe.series)),
    );
    sheet.line(LEFT, 23.5, RIGHT, 23.5, 0.5, true);
}

fn header(
    sheet: &mut Sheet<'_, '_>,
    nfe: &Nfe,
    barcode: &code128::Barcode,
    top: f32,
    page: usize,
    pages: usize,
) {
    // Emitter.
    let e = &nfe.emitter;
    sheet.rect(LEFT, top, 80.0, 32.0);
    sheet.text(
        LEFT + 0.6,
        top + 2.4,
        LABEL_PT,
        false,
        Align::Left,
        "IDENTIFICAÇÃO DO EMITENTE",
    );
    let name_lines = sheet.fonts.bold.wrap(&e.name, 9.0, 76.0);
    let mut y = top + 7.0;
    for line in name_lines.iter().take(2) {
        sheet.text(LEFT + 40.0, y, 9.0, true, Align::Center, line);
        y += 3.8;
    }
    let a = &e.address;
    let mut lines = vec![a.line()];
    lines.push(format!("{} - CEP {}", a.district, f::cep(&a.cep)));
    lines.push(format!("{} - {}", a.municipality, a.uf));
    if !a.phone.is_empty() {
        lines.push(format!("Fone: {}", f::phone(&a.phone)));
    }
    y += 0.8;
    for line in lines {
        let line = sheet.fonts.regular.fit(&line, 7.5, 76.0);
        sheet.text(LEFT + 40.0, y, 7.5, false, Align::Center, &line);
        y += 3.3;
    }

    // DANFE box.
    let x = LEFT + 80.0;
    let w = 32.0;
    let c = x + w / 2.0;
    sheet.rect(x, top, w, 32.0);
    sheet.text(c, top + 5.2, 12.0, true, Align::Center, "DANFE");
    sheet.text(
        c,
        top + 8.2,
        6.0,
        false,
        Align::Center,
        "DOCUMENTO AUXILIAR DA",
    );
    sheet.text(
        c,
        top + 10.5,
        6.0,
        false,
        Align::Center,
        "NOTA FISCAL ELETRÔNICA",
    );
    sheet.text(x + 3.0, top + 14.0, 7.0, false, Align::Left, "0 - ENTRADA");
    sheet.text(x + 3.0, top + 17.0, 7.0, false, Align::Left, "1 - SAÍDA");
    sheet.rect(x + w - 8.0, top + 12.2, 5.0, 5.0);
    sheet.text(
        x + w - 5.5,
        top + 16.0,
        10.0,
        true,
        Align::Center,
        &nfe.direction,
    );
    sheet.text(
        c,
        top + 21.8,
        10.0,
        true,
        Align::Center,
        &format!("Nº {}", f::number(&nfe.number)),
    );
    sheet.text(
        c,
        top + 25.6,
        10.0,
        true,
        Align::Center,
        &format!("SÉRIE {}", f::series(&nfe.series)),
    );
    sheet.text(
        c,
        top + 29.6,
        10.0,
        true,
        Align::Center,
        &format!("FOLHA {page}/{pages}"),
    );

    // Barcode and key.
    let x = LEFT + 112.0;
    let w = RIGHT - x;
    sheet.rect(x, top, w, 13.0);
    let modules = barcode.total_modules() as f32;
    let left = x + (w - modules * MODULE) / 2.0;
    for (start, width) in barcode.bars() {
        sheet.filled(
            left + start as f32 * MODULE,
            top + 1.5,
            width as f32 * MODULE,
            10.0,
        );
    }
    sheet.field_sized(
        x,
        top + 13.0,
        w,
        7.0,
        "CHAVE DE ACESSO",
        &f::key_groups(&nfe.key),
        Align::Center,
        8.5,
        true,
    );
    sheet.rect(x, top + 20.0, w, 12.0);
    sheet.text(
        x + w / 2.0,
        top + 24.5,
        7.5,
        false,
        Align::Center,
        "Consulta de autenticidade no portal nacional da NF-e",
    );
    sheet.text(
        x + w / 2.0,
        top + 27.8,
        7.5,
        false,
        Align::Center,
        "www.nfe.fazenda.gov.br/portal ou no site da Sefaz Autorizadora",
    );

    // Natureza da operação, protocol.
    let y = top + 32.0;
    sheet.field(
        LEFT,
        y,
        112.0,
        "NATUREZA DA OPERAÇÃO",
        &nfe.nature,
        Align::Left,
    );
    let protocol = match &nfe.protocol {
        Some(p) => {
            let when = f::date_time(&p.received_at)
                .map(|(d, t)| format!("{d} {t}"))
                .unwrap_or_else(|| p.received_at.clone());
            format!("{} - {}", p.number, when)
        }
        None => "SEM PROTOCOLO DE AUTORIZAÇÃO".into(),
    };
    sheet.field(
        LEFT + 112.0,
        y,
        RIGHT - LEFT - 112.0,
        "PROTOCOLO DE AUTORIZAÇÃO DE USO",
        &protocol,
        Align::Center,
    );
    let y = y + ROW;
    sheet.field(LEFT, y, 66.0, "INSCRIÇÃO ESTADUAL", &e.ie, Align::Left);
    sheet.field(
        LEFT + 66.0,
        y,
        66.0,
        "INSCRIÇÃO ESTADUAL DO SUBST. TRIBUT.",
        &e.iest,
        Align::Left,
    );
    sheet.field(
        LEFT + 132.0,
        y,
        WIDTH - 132.0,
        "CNPJ / CPF",
        &f::tax_id(&e.tax_id),
        Align::Left,
    );
}

/// Boxes of one row: (label, value, width, alignment); the last one takes what is left.
fn row(sheet: &mut Sheet<'_, '_>, y: f32, boxes: &[(&str, String, f32, Align)]) {
    let mut x = LEFT;
    for (i, (label, value, w, align)) in boxes.iter().enumerate() {
        let w = if i + 1 == boxes.len() { RIGHT - x } else { *w };
        sheet.field(x, y, w, label, value, *align);
        x += w;
    }
}

fn recipient(sheet: &mut Sheet<'_, '_>, nfe: &Nfe, y: f32) -> f32 {
    use Align::{Center, Left};
    let r = &nfe.recipient;
    let (emitted, _) = f::date_time(&nfe.issued_at).unwrap_or_default();
    let (left_date, left_time) = f::date_time(&nfe.left_at).unwrap_or_default();
    sheet.title(y, "DESTINATÁRIO / REMETENTE");
    let y = y + TITLE;
    row(
        sheet,
        y,
        &[
            ("NOME / RAZÃO SOCIAL", r.name.clone(), 115.0, Left),
            ("CNPJ / CPF", f::tax_id(&r.tax_id), 45.0, Center),
            ("DATA DA EMISSÃO", emitted, 40.0, Center),
        ],
    );
    let y = y + ROW;
    row(
        sheet,
        y,
        &[
            ("ENDEREÇO", r.address.line(), 90.0, Left),
            ("BAIRRO / DISTRITO", r.address.district.clone(), 45.0, Left),
            ("CEP", f::cep(&r.address.cep), 25.0, Center),
            ("DATA DA SAÍDA/ENTRADA", left_date, 40.0, Center),
        ],
    );
    let y = y + ROW;
    row(
        sheet,
        y,
        &[
            ("MUNICÍPIO", r.address.municipality.clone(), 75.0, Left),
            ("FONE / FAX", f::phone(&r.address.phone), 35.0, Center),
            ("UF", r.address.uf.clone(), 10.0, Center),
            ("INSCRIÇÃO ESTADUAL", r.ie.clone(), 40.0, Center),
            ("HORA DA SAÍDA/ENTRADA", left_time, 40.0, Center),
        ],
    );
    y + ROW
}

fn billing(sheet: &mut Sheet<'_, '_>, nfe: &Nfe, y: f32) -> f32 {
    let Some(b) = &nfe.billing else {
        return y;
    };
    sheet.title(y, "FATURA / DUPLICATAS");
    let mut y = y + TITLE;
    if !(b.number.is_empty() && b.original.is_empty()) {
        sheet.rect(LEFT, y, WIDTH, 5.0);
        let text = format!(
            "FATURA Nº {}   VALOR ORIGINAL: R$ {}   DESCONTO: R$ {}   VALOR LÍQUIDO: R$ {}",
            b.number,
            f::money(&b.original),
            f::money(&b.discount),
            f::money(&b.net)
        );
        sheet.text(LEFT + 0.8, y + 3.6, 7.0, false, Align::Left, &text);
        y += 5.0;
    }
    let w = WIDTH / DUPS_PER_ROW as f32;
    for chunk in b.installments.chunks(DUPS_PER_ROW) {
        for (i, dup) in chunk.iter().enumerate() {
            let x = LEFT + i as f32 * w;
            sheet.rect(x, y, w, 8.0);
            sheet.text(
                x + 0.8,
                y + 2.4,
                6.0,
                false,
                Align::Left,
                &format!("Nº {}", dup.number),
            );
            sheet.text(
                x + 0.8,
                y + 4.8,
                6.0,
                false,
                Align::Left,
                &format!("VENC. {}", f::date(&dup.due)),
            );
            sheet.text(
                x + 0.8,
                y + 7.2,
                6.0,
                false,
                Align::Left,
                &format!("R$ {}", f::money(&dup.value)),
            );
        }
        y += 8.0;
    }
    y
}

fn taxes(sheet: &mut Sheet<'_, '_>, nfe: &Nfe, y: f32) -> f32 {
    let t = &nfe.totals;
    sheet.title(y, "CÁLCULO DO IMPOSTO");
    let y = y + TITLE;
    let first: [(&str, &str); 9] = [
        ("BASE DE CÁLC. DO ICMS", &t.v_bc),
        ("VALOR DO ICMS", &t.v_icms),
        ("BASE DE CÁLC. ICMS S.T.", &t.v_bc_st),
        ("VALOR DO ICMS SUBST.", &t.v_st),
        ("V. IMP. IMPORTAÇÃO", &t.v_ii),
        ("V. ICMS UF REMET.", &t.v_icms_uf_remet),
        ("V. FCP UF DEST.", &t.v_fcp_uf_dest),
        ("VALOR DO PIS", &t.v_pis),
        ("V. TOTAL PRODUTOS", &t.v_prod),
    ];
    let second: [(&str, &str); 9] = [
        ("VALOR DO FRETE", &t.v_frete),
        ("VALOR DO SEGURO", &t.v_seg),
        ("DESCONTO", &t.v_desc),
        ("OUTRAS DESPESAS", &t.v_outro),
        ("VALOR TOTAL IPI", &t.v_ipi),
        ("V. ICMS UF DEST.", &t.v_icms_uf_dest),
        ("V. TOT. TRIB.", &t.v_tot_trib),
        ("VALOR DA COFINS", &t.v_cofins),
        ("V. TOTAL DA NOTA", &t.v_nf),
    ];
    // Each column as wide as its longer label, the rest of the width shared evenly…
    let label_width = |label: &str| sheet.fonts.regular.width(label, LABEL_PT) + 1.2;
    let mut widths: Vec<f32> = first
        .iter()
        .zip(&second)
        .map(|((a, _), (b, _))| label_width(a).max(label_width(b)))
        .collect();
    // …or, when the labels need more than the width, each in proportion to its label.
    let needed: f32 = widths.iter().sum();
    let spare = (WIDTH - needed) / widths.len() as f32;
    for w in &mut widths {
        *w = if spare >= 0.0 {
            *w + spare
        } else {
            *w * WIDTH / needed
        };
    }
    for (r, boxes) in [first, second].iter().enumerate() {
        let yy = y + r as f32 * ROW;
        let mut x = LEFT;
        for (i, (label, value)) in boxes.iter().enumerate() {
            let value = if value.is_empty() {
                "0,00".to_owned()
            } else {
                f::money(value)
            };
            let bold = r == 1 && i == 8;
            sheet.field_sized(
                x,
                yy,
                widths[i],
                ROW,
                label,
                &value,
                Align::Right,
                VALUE_PT,
                bold,
            );
            x += widths[i];
        }
    }
    y + 2.0 * ROW
}

fn transport(sheet: &mut Sheet<'_, '_>, nfe: &Nfe, y: f32) -> f32 {
    use Align::{Center, Left, Right};
    let t = &nfe.transport;
    sheet.title(y, "TRANSPORTADOR / VOLUMES TRANSPORTADOS");
    let y = y + TITLE;
    row(
        sheet,
        y,
        &[
            ("NOME / RAZÃO SOCIAL", t.name.clone(), 70.0, Left),
            ("FRETE", f::freight_mode(&t.mode), 35.0, Left),
            ("CÓDIGO ANTT", t.antt.clone(), 25.0, Center),
            ("PLACA DO VEÍCULO", t.plate.clone(), 22.0, Center),
            ("UF", t.plate_uf.clone(), 10.0, Center),
            ("CNPJ / CPF", f::tax_id(&t.tax_id), 38.0, Center),
        ],
    );
    let y = y + ROW;
    row(
        sheet,
        y,
        &[
            ("ENDEREÇO", t.address.clone(), 90.0, Left),
            ("MUNICÍPIO", t.municipality.clone(), 62.0, Left),
            ("UF", t.uf.clone(), 10.0, Center),
            ("INSCRIÇÃO ESTADUAL", t.ie.clone(), 38.0, Center),
        ],
    );
    let y = y + ROW;
    row(
        sheet,
        y,
        &[
            ("QUANTIDADE", t.volumes.clone(), 25.0, Right),
            ("ESPÉCIE", t.kind.clone(), 35.0, Left),
            ("MARCA", t.brand.clone(), 35.0, Left),
            ("NUMERAÇÃO", t.numbering.clone(), 35.0, Left),
            ("PESO BRUTO", f::decimal(&t.gross_weight, 3), 35.0, Right),
            ("PESO LÍQUIDO", f::decimal(&t.net_weight, 3), 35.0, Right),
        ],
    );
    y + ROW
}

fn item_cells(item: &Item) -> [String; 13] {
    [
        item.ncm.clone(),
        item.cst.clone(),
        item.cfop.clone(),
        item.unit.clone(),
        f::quantity(&item.quantity),
        f::quantity(&item.unit_value),
        f::money(&item.total),
        f::money(&item.discount),
        f::money(&item.icms_base),
        f::money(&item.icms_value),
        f::money(&item.ipi_value),
        f::money(&item.icms_rate),
        f::money(&item.ipi_rate),
    ]
}

fn items_table(
    sheet: &mut Sheet<'_, '_>,
    nfe: &Nfe,
    rows: &[ItemRow],
    range: std::ops::Range<usize>,
    y: f32,
    bottom: f32,
) {
    sheet.title(y, "DADOS DOS PRODUTOS / SERVIÇOS");
    let top = y + TITLE;
    sheet.rect(LEFT, top, WIDTH, bottom - top);
    sheet.line(
        LEFT,
        top + TABLE_HEADER,
        RIGHT,
        top + TABLE_HEADER,
        0.6,
        false,
    );
    let simples = matches!(nfe.emitter.crt.as_str(), "1" | "4");
    let mut x = LEFT;
    let mut lefts = Vec::with_capacity(COLUMNS.len());
    for (i, (label, w, _)) in COLUMNS.iter().enumerate() {
        let label = if i == 3 && simples { "O/CSOSN" } else { label };
        let lines = sheet.fonts.regular.wrap(label, TABLE_LABEL_PT, w - 0.8);
        let first_baseline = if lines.len() > 1 {
            top + 2.3
        } else {
            top + 3.5
        };
        for (n, line) in lines.iter().take(2).enumerate() {
            sheet.text(
                x + w / 2.0,
                first_baseline + n as f32 * 2.0,
                TABLE_LABEL_PT,
                false,
                Align::Center,
                line,
            );
        }
        if i > 0 {
            sheet.line(x, top, x, bottom, 0.4, false);
        }
        lefts.push(x);
        x += w;
    }
    let mut y = top + TABLE_HEADER;
    for index in range {
        let row = &rows[index];
        let item = &nfe.items[index];
        let baseline = y + ITEM_LINE;
        for (n, line) in row.code.iter().enumerate() {
            sheet.text(
                lefts[0] + 0.6,
                baseline + n as f32 * ITEM_LINE,
                ITEM_PT,
                false,
                Align::Left,
                line,
            );
        }
        for (n, line) in row.description.iter().enumerate() {
            sheet.text(
                lefts[1] + 0.6,
                baseline + n as f32 * ITEM_LINE,
                ITEM_PT,
                false,
                Align::Left,
                line,
            );
        }
        for (i, value) in item_cells(item).iter().enumerate() {
            let column = i + 2;
            let (_, w, align) = COLUMNS[column];
            let value = sheet.fonts.regular.fit(value, ITEM_PT, w - 0.8);
            let x = match align {
                Align::Left => lefts[column] + 0.4,
                Align::Center => lefts[column] + w / 2.0,
                Align::Right => lefts[column] + w - 0.4,
            };
            sheet.text(x, baseline, ITEM_PT, false, align, &value);
        }
        y += row.height;
        sheet.line(LEFT, y, RIGHT, y, 0.15, true);
    }
}

/// Where the items table ends above a dados adicionais box of `info_box` (0: none).
fn table_bottom(info_box: f32) -> f32 {
    if info_box > 0.0 {
        BOTTOM - TITLE - info_box
    } else {
        BOTTOM
    }
}

fn additional(
    sheet: &mut Sheet<'_, '_>,
    lines: &[String],
    y: f32,
    height: f32,
    continuation: bool,
) {
    sheet.title(
        y,
        if continuation {
            "DADOS ADICIONAIS (CONTINUAÇÃO)"
        } else {
            "DADOS ADICIONAIS"
        },
    );
    let top = y + TITLE;
    sheet.rect(LEFT, top, 135.0, height);
    sheet.text(
        LEFT + 0.6,
        top + 2.4,
        LABEL_PT,
        false,
        Align::Left,
        "INFORMAÇÕES COMPLEMENTARES",
    );
    for (i, line) in lines.iter().enumerate() {
        sheet.text(
            LEFT + 0.8,
            top + 5.2 + i as f32 * INFO_LINE,
            INFO_PT,
            false,
            Align::Left,
            line,
        );
    }
    sheet.rect(LEFT + 135.0, top, WIDTH - 135.0, height);
    sheet.text(
        LEFT + 135.6,
        top + 2.4,
        LABEL_PT,
        false,
        Align::Left,
        "RESERVADO AO FISCO",
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_measured_wrapped_and_cut_with_the_embedded_font() {
        let face = Face::new(REGULAR_TTF).unwrap();
        let one = face.width("M", 10.0);
        // Liberation Serif's M is 1821/2048 em: 10 pt → 8.89 pt → 3.14 mm.
        assert!((one - 3.136).abs() < 0.01, "{one}");
        assert!(face.width("ÇÃO", 10.0) > 0.0);
        let lines = face.wrap("um dois três quatro cinco seis sete oito", 10.0, 20.0);
        assert!(lines.len() > 1);
        assert!(lines.iter().all(|l| face.width(l, 10.0) <= 20.0));
        assert_eq!(lines.join(" "), "um dois três quatro cinco seis sete oito");
        let cut = face.fit("uma descrição longa demais para caber", 10.0, 25.0);
        assert!(
            cut.ends_with('…') && face.width(&cut, 10.0) <= 25.0,
            "{cut}"
        );
        let long = face.wrap("SKU-000000000000000000000000001", 6.0, 14.8);
        assert!(long.len() > 1 && long.iter().all(|l| face.width(l, 6.0) <= 14.8));
    }

    #[test]
    fn the_items_columns_fill_the_width() {
        let total: f32 = COLUMNS.iter().map(|c| c.1).sum();
        assert!((total - WIDTH).abs() < 0.001, "{total}");
    }
}
