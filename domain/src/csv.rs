//! CSV as imports read it and exports write it (RFC 4180), strictly.
//!
//! Common CSV readers accept a stray quote or an unclosed quoted field silently, which shifts
//! every following cell into the wrong column; an import must refuse such a file with the line
//! at fault instead. Writing is the inverse, plus neutralising cells a spreadsheet would run as
//! formulas.

use std::fmt;

/// Longest row an import accepts, in bytes; a longer row fails alone.
pub const ROW_BYTES_MAX: usize = 64 * 1024;
/// Most cells a row may have.
pub const CELLS_MAX: usize = 500;

/// Why a file is not usable as CSV at all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FileError {
    /// The bytes are not UTF-8 text.
    Encoding { line: usize, detail: String },
    /// The quoting is broken, so rows cannot be told apart.
    Quoting { line: usize, detail: String },
    /// There is no header row.
    Empty,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Encoding { line, detail } => write!(f, "line {line}: {detail}"),
            FileError::Quoting { line, detail } => write!(f, "line {line}: {detail}"),
            FileError::Empty => f.write_str("the file has no header row"),
        }
    }
}

impl FileError {
    /// A stable machine code for the error.
    pub fn code(&self) -> &'static str {
        match self {
            FileError::Encoding { .. } => "wrong_encoding",
            FileError::Quoting { .. } => "malformed_csv",
            FileError::Empty => "empty_file",
        }
    }
}

/// One record of a file: where it starts, its cells, and its size in bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The 1-based line the record starts on (a quoted cell may span lines).
    pub line: usize,
    pub cells: Vec<String>,
    pub bytes: usize,
}

/// Decodes an uploaded file: UTF-8, with or without a byte order mark. UTF-16 and other
/// encodings are refused with the line of the first byte that is not UTF-8.
pub fn decode(bytes: &[u8]) -> Result<&str, FileError> {
    if bytes.starts_with(&[0xFF, 0xFE]) || bytes.starts_with(&[0xFE, 0xFF]) {
        return Err(FileError::Encoding {
            line: 1,
            detail: "the file is UTF-16; save it as \"CSV UTF-8\" and upload it again".into(),
        });
    }
    let bytes = bytes.strip_prefix(&[0xEF, 0xBB, 0xBF]).unwrap_or(bytes);
    if let Some(at) = bytes.iter().position(|b| *b == 0) {
        let line = bytes[..at].iter().filter(|b| **b == b'\n').count() + 1;
        return Err(FileError::Encoding {
            line,
            detail: "the file holds a NUL byte, so it is not CSV text (a spreadsheet's own format?); save it as \"CSV UTF-8\"".into(),
        });
    }
    std::str::from_utf8(bytes).map_err(|error| {
        let valid = &bytes[..error.valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        FileError::Encoding {
            line,
            detail: format!(
                "byte 0x{:02X} is not UTF-8 (a file saved as Latin-1 or Windows-1252?); save it as \"CSV UTF-8\" and upload it again",
                bytes.get(error.valid_up_to()).copied().unwrap_or_default()
            ),
        }
    })
}

/// Reads every record of `text`. Fails on broken quoting: a quote inside an unquoted cell,
/// text after a closing quote, or a quoted cell that never closes. Blank lines are skipped;
/// `\n` and `\r\n` both end a record.
pub fn parse(text: &str) -> Result<Vec<Row>, FileError> {
    let mut rows = Vec::new();
    let mut reader = Reader { bytes: text.as_bytes(), text, at: 0, line: 1 };
    while let Some(row) = reader.record()? {
        rows.push(row);
    }
    Ok(rows)
}

struct Reader<'a> {
    bytes: &'a [u8],
    text: &'a str,
    at: usize,
    line: usize,
}

impl Reader<'_> {
    fn quoting(&self, line: usize, detail: &str) -> FileError {
        FileError::Quoting { line, detail: detail.to_owned() }
    }

    fn record(&mut self) -> Result<Option<Row>, FileError> {
        // Blank lines between records carry nothing.
        while self.at < self.bytes.len() && matches!(self.bytes[self.at], b'\n' | b'\r') {
            if self.bytes[self.at] == b'\n' {
                self.line += 1;
            }
            self.at += 1;
        }
        if self.at >= self.bytes.len() {
            return Ok(None);
        }
        let (start, line) = (self.at, self.line);
        let mut cells = Vec::new();
        loop {
            let (cell, ended) = self.cell(line)?;
            cells.push(cell);
            if ended {
                break;
            }
        }
        Ok(Some(Row { line, cells, bytes: self.at - start }))
    }

    /// One cell, and whether it ended its record.
    fn cell(&mut self, record_line: usize) -> Result<(String, bool), FileError> {
        if self.bytes.get(self.at) == Some(&b'"') {
            return self.quoted(record_line);
        }
        let start = self.at;
        while let Some(&byte) = self.bytes.get(self.at) {
            match byte {
                b',' => {
                    self.at += 1;
                    return Ok((self.text[start..self.at - 1].to_owned(), false));
                }
                b'\n' | b'\r' => {
                    let cell = self.text[start..self.at].to_owned();
                    self.end_line();
                    return Ok((cell, true));
                }
                b'"' => {
                    return Err(self.quoting(
                        self.line,
                        "a quote inside an unquoted cell; quote the whole cell and double the quotes inside (\"say \"\"hi\"\"\")",
                    ));
                }
                _ => self.at += 1,
            }
        }
        Ok((self.text[start..].to_owned(), true))
    }

    fn quoted(&mut self, record_line: usize) -> Result<(String, bool), FileError> {
        let opened = self.line;
        self.at += 1;
        let mut cell = String::new();
        let mut start = self.at;
        loop {
            match self.bytes.get(self.at) {
                None => {
                    return Err(self
                        .quoting(opened, "a quoted cell is never closed, so the rest of the file would be one cell"));
                }
                Some(b'"') if self.bytes.get(self.at + 1) == Some(&b'"') => {
                    cell.push_str(&self.text[start..=self.at]);
                    self.at += 2;
                    start = self.at;
                }
                Some(b'"') => {
                    cell.push_str(&self.text[start..self.at]);
                    self.at += 1;
                    return match self.bytes.get(self.at) {
                        None => Ok((cell, true)),
                        Some(b',') => {
                            self.at += 1;
                            Ok((cell, false))
                        }
                        Some(b'\n' | b'\r') => {
                            self.end_line();
                            Ok((cell, true))
                        }
                        Some(_) => Err(self.quoting(
                            self.line.max(record_line),
                            "text after the closing quote of a cell; double quotes inside a quoted cell (\"\")",
                        )),
                    };
                }
                Some(b'\n') => {
                    self.line += 1;
                    self.at += 1;
                }
                Some(_) => self.at += 1,
            }
        }
    }

    fn end_line(&mut self) {
        if self.bytes.get(self.at) == Some(&b'\r') {
            self.at += 1;
        }
        if self.bytes.get(self.at) == Some(&b'\n') {
            self.at += 1;
        }
        self.line += 1;
    }
}

/// A cell a spreadsheet would not run as a formula: text starting with `=`, `+`, `-`, `@`, a
/// tab or a carriage return gets a leading `'` (OWASP's advice). Plain numbers such as `-5` or
/// `+4420794600` are left alone: a spreadsheet reads them as numbers, never as formulas.
pub fn formula_safe(cell: &str) -> std::borrow::Cow<'_, str> {
    let risky = cell.starts_with(['=', '+', '-', '@', '\t', '\r']);
    if risky && !is_plain_number(cell) {
        std::borrow::Cow::Owned(format!("'{cell}"))
    } else {
        std::borrow::Cow::Borrowed(cell)
    }
}

fn is_plain_number(cell: &str) -> bool {
    let digits = cell.strip_prefix(['+', '-']).unwrap_or(cell);
    let (whole, fraction) = digits.split_once('.').unwrap_or((digits, "0"));
    !whole.is_empty()
        && whole.bytes().all(|b| b.is_ascii_digit())
        && !fraction.is_empty()
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Appends one CSV line (ending in `\r\n`, as RFC 4180 says) of formula-safe cells to `out`.
pub fn write_line<S: AsRef<str>>(out: &mut String, cells: &[S]) {
    for (index, cell) in cells.iter().enumerate() {
        if index > 0 {
            out.push(',');
        }
        let cell = formula_safe(cell.as_ref());
        if cell.contains([',', '"', '\n', '\r']) {
            out.push('"');
            out.push_str(&cell.replace('"', "\"\""));
            out.push('"');
        } else {
            out.push_str(&cell);
        }
    }
    out.push_str("\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cells(text: &str) -> Vec<Vec<String>> {
        parse(text).map(|rows| rows.into_iter().map(|r| r.cells).collect()).unwrap_or_default()
    }

    #[test]
    fn quoted_cells_hold_commas_quotes_and_line_breaks() {
        let rows = parse("a,b\r\n\"x, y\",\"say \"\"hi\"\"\"\n\"two\nlines\",last\n").unwrap_or_default();
        assert_eq!(rows.len(), 3);
        assert_eq!(rows[1].cells, ["x, y", "say \"hi\""]);
        assert_eq!(rows[2].cells, ["two\nlines", "last"]);
        assert_eq!(rows[2].line, 3);
    }

    #[test]
    fn empty_cells_and_a_missing_final_newline_are_read() {
        assert_eq!(cells("a,,c\n,,"), [vec!["a", "", "c"], vec!["", "", ""]]);
        assert_eq!(cells("\n\nh\n\nv\n"), [vec!["h"], vec!["v"]]);
    }

    #[test]
    fn broken_quoting_is_refused_with_its_line() {
        let stray = parse("a,b\nx,y\"z\n");
        assert!(matches!(stray, Err(FileError::Quoting { line: 2, .. })), "{stray:?}");
        let after = parse("a,b\n\"x\"y,z\n");
        assert!(matches!(after, Err(FileError::Quoting { line: 2, .. })), "{after:?}");
        let unclosed = parse("a,b\n1,2\n\"never closed,3\n4,5\n");
        assert!(matches!(unclosed, Err(FileError::Quoting { line: 3, .. })), "{unclosed:?}");
    }

    #[test]
    fn only_utf8_is_accepted_and_a_byte_order_mark_is_dropped() {
        assert_eq!(decode(b"\xEF\xBB\xBFname\n"), Ok("name\n"));
        let latin1 = decode(b"name\nJos\xE9\n");
        assert!(matches!(latin1, Err(FileError::Encoding { line: 2, .. })), "{latin1:?}");
        assert!(matches!(decode(b"\xFF\xFEn\0"), Err(FileError::Encoding { line: 1, .. })));
        assert!(matches!(decode(b"name\nA\0da\n"), Err(FileError::Encoding { line: 2, .. })));
    }

    #[test]
    fn formulas_are_neutralised_but_numbers_are_not() {
        for risky in ["=1+2", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)", "\tx", "\rx", "-", "+"] {
            assert_eq!(formula_safe(risky), format!("'{risky}"), "{risky}");
        }
        for plain in ["-5", "+442079460000", "12.50", "-0.5", "Ada", "a=b"] {
            assert_eq!(formula_safe(plain), plain);
        }
    }

    #[test]
    fn written_lines_read_back_as_the_same_cells() {
        let original = ["plain", "with, comma", "quote \"q\"", "line\nbreak", ""];
        let mut out = String::new();
        write_line(&mut out, &original);
        assert_eq!(cells(&out), [original.to_vec()]);
        let mut risky = String::new();
        write_line(&mut risky, &["=HYPERLINK(\"x\")"]);
        assert_eq!(risky, "\"'=HYPERLINK(\"\"x\"\")\"\r\n");
    }
}
