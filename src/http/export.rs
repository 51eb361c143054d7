//! Files officials open as they are: the one way every export writes a table, as CSV or
//! XLSX. People by name (the caller fills the cells), times as real date cells in
//! Asia/Shanghai (XLSX) or `YYYY-MM-DD HH:MM` (CSV), a bold frozen header row with an
//! autofilter, set column widths, photo links, and CSV cells that cannot run as formulas.
use actix_web::web::Bytes;
use chrono::{DateTime, Datelike, Timelike, Utc};
use rust_xlsxwriter::{Chart, ChartType, ExcelDateTime, Format, Url, Workbook, Worksheet, XlsxError};

use crate::clock::shanghai;
use crate::error::{AppError, Result};

/// One column: its title and width in characters (a Chinese character counts two).
#[derive(Debug, Clone, Copy)]
pub struct Column {
    pub title: &'static str,
    pub width: f64,
}

pub const fn column(title: &'static str, width: f64) -> Column {
    Column { title, width }
}

/// One cell, typed so each format writes it properly.
#[derive(Debug, Clone)]
pub enum Cell {
    Text(String),
    Number(f64),
    Integer(i64),
    /// A moment, shown in Asia/Shanghai; None leaves the cell empty.
    Time(Option<DateTime<Utc>>),
    /// Absolute links to photos (XLSX: the first as a hyperlink, all listed; CSV: one per line).
    Links(Vec<String>),
}

impl From<String> for Cell {
    fn from(s: String) -> Self {
        Cell::Text(s)
    }
}

impl From<&str> for Cell {
    fn from(s: &str) -> Self {
        Cell::Text(s.to_owned())
    }
}

/// The scheme and host the caller reached us at (as a proxy's `Forwarded` or
/// `X-Forwarded-*` headers say): photo links in a file must be absolute.
pub fn origin(req: &actix_web::HttpRequest) -> String {
    let info = req.connection_info();
    format!("{}://{}", info.scheme(), info.host())
}

/// `YYYY-MM-DD HH:MM` in Asia/Shanghai.
pub fn local_minute(t: DateTime<Utc>) -> String {
    t.with_timezone(&shanghai()).format("%Y-%m-%d %H:%M").to_string()
}

/// OWASP's rule against CSV injection: a cell that would start with `=`, `+`, `-`, `@`,
/// a tab or a carriage return gets a `'` in front, so a spreadsheet shows it as text.
pub fn neutralise(text: &str) -> std::borrow::Cow<'_, str> {
    match text.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r') => format!("'{text}").into(),
        _ => text.into(),
    }
}

fn csv_text(cell: &Cell) -> String {
    match cell {
        Cell::Text(s) => neutralise(s).into_owned(),
        Cell::Number(n) => format!("{n}"),
        Cell::Integer(n) => n.to_string(),
        Cell::Time(t) => t.map(local_minute).unwrap_or_default(),
        Cell::Links(links) => links.join("\n"),
    }
}

/// CSV rows as bytes; with the header (and the BOM that makes Excel read UTF-8) first
/// when `first`. Streamed exports call it once per page.
pub fn csv_chunk(columns: &[Column], rows: &[Vec<Cell>], first: bool) -> Result<Bytes> {
    let mut buf = Vec::new();
    if first {
        buf.extend_from_slice("\u{feff}".as_bytes());
    }
    {
        let mut w = csv::Writer::from_writer(&mut buf);
        if first {
            w.write_record(columns.iter().map(|c| c.title)).map_err(anyhow::Error::from)?;
        }
        for row in rows {
            w.write_record(row.iter().map(csv_text)).map_err(anyhow::Error::from)?;
        }
        w.flush().map_err(anyhow::Error::from)?;
    }
    Ok(Bytes::from(buf))
}

fn xlsx_error(err: XlsxError) -> AppError {
    AppError::Internal(anyhow::anyhow!("writing an xlsx export: {err}"))
}

/// A workbook of one or more sheets, written row by row in constant memory (rows go to a
/// temporary file as they are written).
pub struct XlsxBook {
    book: Workbook,
}

/// A sheet being written: rows are appended; `finish` sets the autofilter.
pub struct XlsxSheet<'a> {
    sheet: &'a mut Worksheet,
    columns: &'a [Column],
    next_row: u32,
    date: Format,
    link: Format,
    wrap_link: Format,
}

impl XlsxBook {
    pub fn new() -> Result<Self> {
        let mut book = Workbook::new();
        book.set_tempdir(std::env::temp_dir()).map_err(xlsx_error)?;
        Ok(XlsxBook { book })
    }

    /// A new sheet with its bold, frozen header row and its column widths.
    pub fn sheet<'a>(&'a mut self, name: &str, columns: &'a [Column]) -> Result<XlsxSheet<'a>> {
        let sheet = self.book.add_worksheet_with_constant_memory().map_err(xlsx_error)?;
        sheet.set_name(name).map_err(xlsx_error)?;
        let bold = Format::new().set_bold();
        for (col, c) in columns.iter().enumerate() {
            let col = col as u16;
            sheet.set_column_width(col, c.width).map_err(xlsx_error)?;
            sheet.write_string_with_format(0, col, c.title, &bold).map_err(xlsx_error)?;
        }
        sheet.set_freeze_panes(1, 0).map_err(xlsx_error)?;
        Ok(XlsxSheet {
            sheet,
            columns,
            next_row: 1,
            date: Format::new().set_num_format("yyyy-mm-dd hh:mm"),
            link: link_format(),
            wrap_link: link_format().set_text_wrap(),
        })
    }

    pub fn finish(self) -> Result<Vec<u8>> {
        let mut book = self.book;
        book.save_to_buffer().map_err(xlsx_error)
    }
}

fn link_format() -> Format {
    Format::new().set_font_color(rust_xlsxwriter::Color::Blue).set_underline(rust_xlsxwriter::FormatUnderline::Single)
}

impl XlsxSheet<'_> {
    pub fn append(&mut self, row: &[Cell]) -> Result<()> {
        let r = self.next_row;
        for (col, cell) in row.iter().enumerate() {
            let col = col as u16;
            match cell {
                Cell::Text(s) if s.is_empty() => {}
                Cell::Text(s) => {
                    self.sheet.write_string(r, col, s).map_err(xlsx_error)?;
                }
                Cell::Number(n) => {
                    self.sheet.write_number(r, col, *n).map_err(xlsx_error)?;
                }
                Cell::Integer(n) => {
                    self.sheet.write_number(r, col, *n as f64).map_err(xlsx_error)?;
                }
                Cell::Time(None) => {}
                Cell::Time(Some(t)) => {
                    let t = t.with_timezone(&shanghai());
                    let at = ExcelDateTime::from_ymd(t.year() as u16, t.month() as u8, t.day() as u8)
                        .and_then(|d| d.and_hms(t.hour() as u16, t.minute() as u8, t.second()))
                        .map_err(xlsx_error)?;
                    self.sheet.write_datetime_with_format(r, col, &at, &self.date).map_err(xlsx_error)?;
                }
                Cell::Links(links) if links.is_empty() => {}
                // One hyperlink per cell is all Excel has: it opens the first photo, and
                // the cell's text lists every link.
                Cell::Links(links) => {
                    let text = if links.len() == 1 { "查看照片".to_owned() } else { links.join("\n") };
                    let url = Url::new(links[0].as_str()).set_text(text);
                    let format = if links.len() == 1 { &self.link } else { &self.wrap_link };
                    self.sheet.write_url_with_format(r, col, url, format).map_err(xlsx_error)?;
                }
            }
        }
        self.next_row += 1;
        Ok(())
    }

    /// A native bar chart beside the table, of column `values` against the names in column
    /// `names` over data rows `first..=last` (1 is the first row under the header).
    pub fn bar_chart(&mut self, title: &str, sheet: &str, names: u16, values: u16, rows: (u32, u32)) -> Result<()> {
        let (first, last) = rows;
        if last < first {
            return Ok(());
        }
        let mut chart = Chart::new(ChartType::Bar);
        chart
            .add_series()
            .set_name(self.columns.get(usize::from(values)).map_or("", |c| c.title))
            .set_categories((sheet, first, names, last, names))
            .set_values((sheet, first, values, last, values));
        chart.title().set_name(title);
        chart.legend().set_hidden();
        let at = self.columns.len() as u16 + 1;
        self.sheet.insert_chart(1, at, &chart).map_err(xlsx_error)?;
        Ok(())
    }

    /// The autofilter over the header and every row written.
    pub fn finish(self) -> Result<()> {
        let last_col = self.columns.len().saturating_sub(1) as u16;
        self.sheet.autofilter(0, 0, self.next_row.saturating_sub(1).max(1), last_col).map_err(xlsx_error)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_neutralised_and_nothing_else_is_touched() {
        for bad in ["=HYPERLINK(\"http://x\")", "+1", "-2+3", "@SUM(A1)", "\tx", "\rx"] {
            assert_eq!(neutralise(bad), format!("'{bad}"));
        }
        for good in ["井盖缺失", "1+1", "a=b", "", " =x"] {
            assert_eq!(neutralise(good), good);
        }
    }

    #[test]
    fn csv_times_are_shanghai_minutes() {
        let t = DateTime::parse_from_rfc3339("2026-11-29T16:05:59Z").unwrap().with_timezone(&Utc);
        assert_eq!(local_minute(t), "2026-11-30 00:05");
        let cols = [column("时间", 18.0), column("内容", 20.0)];
        let bytes = csv_chunk(&cols, &[vec![Cell::Time(Some(t)), "=1+2".into()]], true).unwrap();
        assert_eq!(std::str::from_utf8(&bytes).unwrap(), "\u{feff}时间,内容\n2026-11-30 00:05,'=1+2\n");
    }
}
