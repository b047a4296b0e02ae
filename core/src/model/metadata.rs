//! Parsing of the custom metadata Ultralytics writes into exported ONNX models.
//!
//! Ultralytics stores every value with Python's `str()`, so `names` is a dict literal such as
//! `{0: 'person', 1: "it's"}`, `imgsz` is a list literal such as `[640, 640]` and `stride` an integer. The
//! parsers here accept exactly the Python literal syntax those values use, quotes and escapes included, and
//! nothing more: anything else is reported as an error naming the key.

use crate::error::{Error, Result};

/// The values this library reads from a model's metadata, already parsed.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ModelMetadata {
    /// Class names by class id, if the model has a `names` entry.
    pub names: Option<Vec<String>>,
    /// The training image size as `(height, width)`, if present.
    pub imgsz: Option<(u32, u32)>,
    /// The largest stride of the model, if present.
    pub stride: Option<u32>,
    /// The task (`detect`, `segment`, `pose`, `obb`, `classify`), if present.
    pub task: Option<String>,
    /// Whether the model was exported end-to-end (NMS-free head), if present.
    pub end2end: Option<bool>,
    /// Whether the model was exported with NMS inside the graph (`args` contains `'nms': True`).
    pub nms_in_graph: bool,
    /// A pose model's keypoints as `(count, values per keypoint)`: `[17, 3]` is 17 keypoints of `x, y,
    /// confidence`, `[K, 2]` keypoints without confidence.
    pub kpt_shape: Option<(usize, usize)>,
    /// The class of the model's head (`Detect`, `RTDETRDecoder`...), which Ultralytics 8.4 exports name.
    pub head: Option<String>,
    /// Whether the model is an RT-DETR: its `head` is `RTDETRDecoder`, or, in exports that do not name the
    /// head, its `description` names an RT-DETR model.
    pub rtdetr: bool,
}

impl ModelMetadata {
    /// Parses the metadata from a lookup function over the raw string values.
    ///
    /// A key that is absent is `None`; a key that is present but malformed is an [`ErrorKind::InvalidModel`]
    /// error, because guessing would silently give wrong detections.
    ///
    /// [`ErrorKind::InvalidModel`]: crate::error::ErrorKind::InvalidModel
    pub fn parse(lookup: impl Fn(&str) -> Option<String>) -> Result<Self> {
        let names = lookup("names").map(|raw| parse_names(&raw)).transpose()?;
        let imgsz = lookup("imgsz").map(|raw| parse_imgsz(&raw)).transpose()?;
        let stride = lookup("stride").map(|raw| parse_stride(&raw)).transpose()?;
        let task = lookup("task").map(|raw| raw.trim().to_owned());
        let end2end = lookup("end2end").map(|raw| parse_bool("end2end", &raw)).transpose()?;
        let nms_in_graph = lookup("args").is_some_and(|raw| args_enable_nms(&raw));
        let kpt_shape = lookup("kpt_shape").map(|raw| parse_kpt_shape(&raw)).transpose()?;
        let head = lookup("head").map(|raw| raw.trim().to_owned());
        let rtdetr = match &head {
            Some(head) => head == "RTDETRDecoder",
            None => lookup("description").is_some_and(|d| {
                let d = d.to_ascii_lowercase();
                d.contains("rtdetr") || d.contains("rt-detr")
            }),
        };
        Ok(Self { names, imgsz, stride, task, end2end, nms_in_graph, kpt_shape, head, rtdetr })
    }
}

/// Parses the `names` value: a Python dict literal from int to str, or a list literal of str.
///
/// Ids missing from a dict (gaps) are named `class{id}`, so that every id below the largest has a name.
pub fn parse_names(raw: &str) -> Result<Vec<String>> {
    let mut parser = Parser::new(raw);
    let names = parser.names().map_err(|e| Error::invalid_model(format!("metadata 'names': {e}")))?;
    parser.end().map_err(|e| Error::invalid_model(format!("metadata 'names': {e}")))?;
    Ok(names)
}

/// Parses `imgsz`: `640`, `[640]` or `[640, 480]` (height, width) into `(height, width)`.
pub fn parse_imgsz(raw: &str) -> Result<(u32, u32)> {
    let bad = |why: String| Error::invalid_model(format!("metadata 'imgsz' = {raw:?}: {why}"));
    let mut parser = Parser::new(raw);
    let sizes = parser.int_or_int_list().map_err(bad)?;
    parser.end().map_err(bad)?;
    let size = |v: i64| {
        let positive =
            u32::try_from(v).ok().filter(|&v| v > 0).ok_or_else(|| bad(format!("{v} is not a positive size")))?;
        if positive > super::MAX_IMGSZ {
            return Err(bad(format!("{v} exceeds the maximum of {}", super::MAX_IMGSZ)));
        }
        Ok(positive)
    };
    match sizes.as_slice() {
        [s] => Ok((size(*s)?, size(*s)?)),
        [h, w] => Ok((size(*h)?, size(*w)?)),
        _ => Err(bad("expected one or two sizes".into())),
    }
}

/// Parses `stride`: an integer, or a list of strides of which the largest counts.
pub fn parse_stride(raw: &str) -> Result<u32> {
    let bad = |why: String| Error::invalid_model(format!("metadata 'stride' = {raw:?}: {why}"));
    let mut parser = Parser::new(raw);
    let strides = parser.int_or_int_list().map_err(bad)?;
    parser.end().map_err(bad)?;
    let max = strides.into_iter().max().ok_or_else(|| bad("empty list".into()))?;
    u32::try_from(max).ok().filter(|&s| s > 0).ok_or_else(|| bad(format!("{max} is not a positive stride")))
}

/// Parses `kpt_shape`: `[count, values]` with `values` 2 (`x, y`) or 3 (`x, y, confidence`). A count of
/// 0 is kept, for the task check to refuse with the model's output shape in the message.
pub fn parse_kpt_shape(raw: &str) -> Result<(usize, usize)> {
    let bad = |why: String| Error::invalid_model(format!("metadata 'kpt_shape' = {raw:?}: {why}"));
    let mut parser = Parser::new(raw);
    let values = parser.int_or_int_list().map_err(bad)?;
    parser.end().map_err(bad)?;
    match *values.as_slice() {
        [count, dims @ (2 | 3)] if (0..=MAX_KEYPOINTS).contains(&count) => Ok((count as usize, dims as usize)),
        [_, 2 | 3] => Err(bad(format!("the keypoint count must be 0 to {MAX_KEYPOINTS}"))),
        _ => Err(bad("expected [keypoints, 2] or [keypoints, 3]".into())),
    }
}

/// The most keypoints a pose model may name: far above any real skeleton (COCO has 17, whole-body 133).
pub const MAX_KEYPOINTS: i64 = 4096;

fn parse_bool(key: &str, raw: &str) -> Result<bool> {
    match raw.trim() {
        "True" | "true" | "1" => Ok(true),
        "False" | "false" | "0" => Ok(false),
        other => Err(Error::invalid_model(format!("metadata '{key}' = {other:?} is not a boolean"))),
    }
}

/// Whether Ultralytics' export `args` dict says the graph contains NMS. A textual check is enough: the
/// value is only a hint used to tell `[B, K, 6]` NMS outputs from a one-class YOLOv5 head.
fn args_enable_nms(raw: &str) -> bool {
    raw.contains("'nms': True")
}

/// A small recursive-descent parser for the subset of Python literal syntax Ultralytics writes.
struct Parser<'a> {
    text: &'a str,
    pos: usize,
}

type ParseResult<T> = std::result::Result<T, String>;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn skip_ws(&mut self) {
        let trimmed = self.rest().trim_start();
        self.pos = self.text.len() - trimmed.len();
    }

    fn peek(&mut self) -> Option<char> {
        self.skip_ws();
        self.rest().chars().next()
    }

    fn expect(&mut self, want: char) -> ParseResult<()> {
        match self.peek() {
            Some(c) if c == want => {
                self.pos += c.len_utf8();
                Ok(())
            }
            Some(c) => Err(format!("expected '{want}' at byte {}, found '{c}'", self.pos)),
            None => Err(format!("expected '{want}' at byte {}, found the end", self.pos)),
        }
    }

    fn end(&mut self) -> ParseResult<()> {
        match self.peek() {
            None => Ok(()),
            Some(c) => Err(format!("unexpected '{c}' at byte {} after the value", self.pos)),
        }
    }

    fn int(&mut self) -> ParseResult<i64> {
        self.skip_ws();
        let rest = self.rest();
        let digits_start = usize::from(rest.starts_with('-') || rest.starts_with('+'));
        let len = rest[digits_start..].bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(format!("expected an integer at byte {}", self.pos));
        }
        let token = &rest[..digits_start + len];
        self.pos += token.len();
        token.parse::<i64>().map_err(|e| format!("integer {token:?}: {e}"))
    }

    fn int_or_int_list(&mut self) -> ParseResult<Vec<i64>> {
        match self.peek() {
            Some('[') | Some('(') => {
                let close = if self.peek() == Some('[') { ']' } else { ')' };
                self.pos += 1;
                self.comma_separated(close, |p| p.int())
            }
            _ => Ok(vec![self.int()?]),
        }
    }

    /// Parses items separated by commas (a trailing comma allowed) up to and including `close`.
    fn comma_separated<T>(
        &mut self,
        close: char,
        mut item: impl FnMut(&mut Self) -> ParseResult<T>,
    ) -> ParseResult<Vec<T>> {
        let mut items = Vec::new();
        loop {
            if self.peek() == Some(close) {
                self.pos += 1;
                return Ok(items);
            }
            items.push(item(self)?);
            match self.peek() {
                Some(',') => self.pos += 1,
                Some(c) if c == close => {}
                Some(c) => return Err(format!("expected ',' or '{close}' at byte {}, found '{c}'", self.pos)),
                None => return Err(format!("unterminated literal, expected '{close}'")),
            }
        }
    }

    fn names(&mut self) -> ParseResult<Vec<String>> {
        match self.peek() {
            Some('{') => {
                self.pos += 1;
                let entries = self.comma_separated('}', |p| {
                    let id = p.int()?;
                    p.expect(':')?;
                    let name = p.string()?;
                    Ok((id, name))
                })?;
                names_from_entries(entries)
            }
            Some('[') => {
                self.pos += 1;
                self.comma_separated(']', |p| p.string())
            }
            _ => Err("expected a dict or list literal".into()),
        }
    }

    /// Parses a Python string literal in single or double quotes, with Python's escapes.
    fn string(&mut self) -> ParseResult<String> {
        let quote = match self.peek() {
            Some(q @ ('\'' | '"')) => q,
            _ => return Err(format!("expected a string literal at byte {}", self.pos)),
        };
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((offset, c)) = chars.next() {
            match c {
                c if c == quote => {
                    self.pos += offset + 1;
                    return Ok(out);
                }
                '\\' => {
                    let (_, esc) = chars.next().ok_or("unterminated escape")?;
                    match esc {
                        '\\' | '\'' | '"' => out.push(esc),
                        'n' => out.push('\n'),
                        'r' => out.push('\r'),
                        't' => out.push('\t'),
                        '0' => out.push('\0'),
                        'a' => out.push('\x07'),
                        'b' => out.push('\x08'),
                        'f' => out.push('\x0c'),
                        'v' => out.push('\x0b'),
                        'x' => out.push(hex_escape(&mut chars, 2)?),
                        'u' => out.push(hex_escape(&mut chars, 4)?),
                        'U' => out.push(hex_escape(&mut chars, 8)?),
                        other => return Err(format!("unsupported escape '\\{other}'")),
                    }
                }
                c => out.push(c),
            }
        }
        Err("unterminated string literal".into())
    }
}

fn hex_escape(chars: &mut std::str::CharIndices<'_>, digits: usize) -> ParseResult<char> {
    let mut value = 0u32;
    for _ in 0..digits {
        let (_, c) = chars.next().ok_or("truncated hex escape")?;
        value = value * 16 + c.to_digit(16).ok_or_else(|| format!("'{c}' is not a hex digit"))?;
    }
    char::from_u32(value).ok_or_else(|| format!("\\u{value:x} is not a character"))
}

/// Upper bound on class ids, so that a hostile `{99999999: 'x'}` cannot make us allocate gigabytes.
const MAX_CLASS_ID: i64 = 1 << 20;

fn names_from_entries(entries: Vec<(i64, String)>) -> ParseResult<Vec<String>> {
    let mut names: Vec<Option<String>> = Vec::new();
    for (id, name) in entries {
        if !(0..MAX_CLASS_ID).contains(&id) {
            return Err(format!("class id {id} is out of range"));
        }
        let id = id as usize;
        if names.len() <= id {
            names.resize(id + 1, None);
        }
        if names[id].replace(name).is_some() {
            return Err(format!("class id {id} appears twice"));
        }
    }
    Ok(names.into_iter().enumerate().map(|(id, name)| name.unwrap_or_else(|| format!("class{id}"))).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_python_dict_with_both_quote_styles_and_escapes() {
        let names =
            parse_names(r#"{0: 'person', 1: "it's", 2: 'a\'b', 3: 'back\\slash', 4: 'caf\xe9', 5: '\u65e5'}"#).unwrap();
        assert_eq!(names, ["person", "it's", "a'b", "back\\slash", "café", "日"]);
    }

    #[test]
    fn parses_kpt_shape() {
        assert_eq!(parse_kpt_shape("[17, 3]").unwrap(), (17, 3));
        assert_eq!(parse_kpt_shape("[5, 2]").unwrap(), (5, 2));
        assert_eq!(parse_kpt_shape("[0, 3]").unwrap(), (0, 3), "refused later, with the output shape");
        for bad in ["[17]", "[17, 4]", "[-1, 3]", "[5000, 3]", "17", "[17, 3, 1]", "x"] {
            assert!(parse_kpt_shape(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_utf8_and_commas_inside_strings() {
        assert_eq!(parse_names("{0: 'a, b', 1: 'ü}'}").unwrap(), ["a, b", "ü}"]);
    }

    #[test]
    fn fills_gaps_and_accepts_lists() {
        assert_eq!(parse_names("{1: 'b', 3: 'd'}").unwrap(), ["class0", "b", "class2", "d"]);
        assert_eq!(parse_names("['x', \"y\",]").unwrap(), ["x", "y"]);
        assert_eq!(parse_names("{}").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn rejects_malformed_names() {
        for bad in [
            "",
            "{0: 'a'",
            "{0: a}",
            "{0 'a'}",
            "{-1: 'a'}",
            "{0: 'a', 0: 'b'}",
            "{0: 'a'} x",
            "{0: 'a\\q'}",
            "{99999999999: 'a'}",
        ] {
            let err = parse_names(bad).unwrap_err();
            assert!(err.message().contains("names"), "{bad:?} gave {err}");
        }
    }

    #[test]
    fn parses_imgsz_and_stride() {
        assert_eq!(parse_imgsz("[640, 480]").unwrap(), (640, 480));
        assert_eq!(parse_imgsz("320").unwrap(), (320, 320));
        assert_eq!(parse_imgsz("[320]").unwrap(), (320, 320));
        assert!(parse_imgsz("[0, 640]").is_err());
        assert_eq!(parse_imgsz("[16384, 16384]").unwrap(), (16384, 16384));
        let bomb = parse_imgsz("[100000, 100000]").unwrap_err();
        assert!(bomb.message().contains("100000 exceeds the maximum of 16384"), "{bomb}");
        assert!(parse_imgsz("[1, 2, 3]").is_err());
        assert!(parse_imgsz("big").is_err());
        assert_eq!(parse_stride("32").unwrap(), 32);
        assert_eq!(parse_stride("[8, 16, 32]").unwrap(), 32);
        assert!(parse_stride("0").is_err());
    }

    #[test]
    fn reads_the_keys_that_change_decoding() {
        let meta = ModelMetadata::parse(|key| match key {
            "names" => Some("{0: 'a'}".into()),
            "end2end" => Some("True".into()),
            "task" => Some("detect".into()),
            "args" => Some("{'batch': 1, 'nms': True}".into()),
            _ => None,
        })
        .unwrap();
        assert_eq!(meta.names.as_deref(), Some(&["a".to_string()][..]));
        assert_eq!(meta.end2end, Some(true));
        assert!(meta.nms_in_graph);
        assert_eq!(meta.imgsz, None);
        assert!(ModelMetadata::parse(|k| (k == "end2end").then(|| "maybe".into())).is_err());
    }
}
