//! Just enough of the ONNX protobuf format to find a model's initializers (its weights), so that the
//! sessions of one pool can share a single copy of them.
//!
//! Protobuf wire format: each field is a varint key `(number << 3) | wire_type`, then a varint (type 0),
//! 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5). `ModelProto.graph` is field 7,
//! `GraphProto.initializer` field 5, and in `TensorProto`: `dims` 1, `data_type` 2, `name` 8, `raw_data` 9,
//! `data_location` 14 (1 = external file).

use crate::error::{Error, Result};

/// One initializer stored inline as `raw_data` (little-endian), borrowed from the model bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct RawInitializer<'a> {
    /// The initializer's name in the graph.
    pub name: String,
    /// ONNX `TensorProto.DataType` value (1 float, 7 int64, 10 float16, ...).
    pub data_type: i32,
    /// Dimensions.
    pub dims: Vec<i64>,
    /// The little-endian element bytes.
    pub raw_data: &'a [u8],
}

/// The inline `raw_data` initializers of an ONNX model. Initializers stored otherwise (typed fields,
/// external files) are skipped: they stay in the graph, unshared.
pub fn raw_initializers(model: &[u8]) -> Result<Vec<RawInitializer<'_>>> {
    let bad = |why: &str| Error::invalid_model(format!("cannot read the ONNX model's initializers: {why}"));
    let mut out = Vec::new();
    for field in Fields::new(model) {
        let (number, value) = field.map_err(bad)?;
        if let (7, Value::Bytes(graph)) = (number, value) {
            for field in Fields::new(graph) {
                let (number, value) = field.map_err(bad)?;
                if let (5, Value::Bytes(tensor)) = (number, value) {
                    if let Some(initializer) = parse_tensor(tensor).map_err(bad)? {
                        out.push(initializer);
                    }
                }
            }
        }
    }
    Ok(out)
}

fn parse_tensor(bytes: &[u8]) -> std::result::Result<Option<RawInitializer<'_>>, &'static str> {
    let (mut name, mut data_type, mut dims, mut raw_data, mut external) = (None, 0, Vec::new(), None, false);
    for field in Fields::new(bytes) {
        match field? {
            (1, Value::Varint(dim)) => dims.push(dim as i64),
            (1, Value::Bytes(mut packed)) => {
                while !packed.is_empty() {
                    dims.push(read_varint(&mut packed)? as i64);
                }
            }
            (2, Value::Varint(t)) => data_type = t as i32,
            (8, Value::Bytes(n)) => name = Some(String::from_utf8_lossy(n).into_owned()),
            (9, Value::Bytes(data)) => raw_data = Some(data),
            (14, Value::Varint(location)) => external = location == 1,
            _ => {}
        }
    }
    Ok(match (name, raw_data) {
        (Some(name), Some(raw_data)) if !external => Some(RawInitializer { name, data_type, dims, raw_data }),
        _ => None,
    })
}

enum Value<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Fixed,
}

/// An iterator over the fields of one protobuf message.
struct Fields<'a> {
    rest: &'a [u8],
}

impl<'a> Fields<'a> {
    fn new(bytes: &'a [u8]) -> Self {
        Self { rest: bytes }
    }
}

impl<'a> Iterator for Fields<'a> {
    type Item = std::result::Result<(u64, Value<'a>), &'static str>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let field = (|| {
            let key = read_varint(&mut self.rest)?;
            let value = match key & 7 {
                0 => Value::Varint(read_varint(&mut self.rest)?),
                1 => Value::Fixed.skip(&mut self.rest, 8)?,
                2 => {
                    let len = usize::try_from(read_varint(&mut self.rest)?).map_err(|_| "length overflows")?;
                    if len > self.rest.len() {
                        return Err("truncated field");
                    }
                    let (bytes, rest) = self.rest.split_at(len);
                    self.rest = rest;
                    Value::Bytes(bytes)
                }
                5 => Value::Fixed.skip(&mut self.rest, 4)?,
                _ => return Err("unsupported wire type"),
            };
            Ok((key >> 3, value))
        })();
        if field.is_err() {
            self.rest = &[];
        }
        Some(field)
    }
}

impl<'a> Value<'a> {
    fn skip(self, rest: &mut &'a [u8], n: usize) -> std::result::Result<Value<'a>, &'static str> {
        if rest.len() < n {
            return Err("truncated field");
        }
        *rest = &rest[n..];
        Ok(self)
    }
}

fn read_varint(bytes: &mut &[u8]) -> std::result::Result<u64, &'static str> {
    let mut value = 0u64;
    for shift in (0..64).step_by(7) {
        let (&byte, rest) = bytes.split_first().ok_or("truncated varint")?;
        *bytes = rest;
        value |= u64::from(byte & 0x7f) << shift;
        if byte & 0x80 == 0 {
            return Ok(value);
        }
    }
    Err("varint too long")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn varint(mut v: u64, out: &mut Vec<u8>) {
        loop {
            let byte = (v & 0x7f) as u8;
            v >>= 7;
            if v == 0 {
                out.push(byte);
                return;
            }
            out.push(byte | 0x80);
        }
    }

    fn bytes_field(number: u64, payload: &[u8], out: &mut Vec<u8>) {
        varint(number << 3 | 2, out);
        varint(payload.len() as u64, out);
        out.extend_from_slice(payload);
    }

    fn tensor(name: &str, data_type: u64, dims: &[u64], raw: &[u8], packed: bool) -> Vec<u8> {
        let mut t = Vec::new();
        if packed {
            let mut p = Vec::new();
            dims.iter().for_each(|&d| varint(d, &mut p));
            bytes_field(1, &p, &mut t);
        } else {
            for &d in dims {
                varint(1 << 3, &mut t);
                varint(d, &mut t);
            }
        }
        varint(2 << 3, &mut t);
        varint(data_type, &mut t);
        bytes_field(8, name.as_bytes(), &mut t);
        bytes_field(9, raw, &mut t);
        t
    }

    #[test]
    fn finds_raw_initializers_inside_the_graph() {
        let mut graph = Vec::new();
        bytes_field(5, &tensor("w", 1, &[2, 3], &[0u8; 24], false), &mut graph);
        bytes_field(5, &tensor("shape", 7, &[4], &[1u8; 32], true), &mut graph);
        bytes_field(1, b"a node, ignored", &mut graph);
        let mut model = Vec::new();
        varint(1 << 3, &mut model); // ir_version
        varint(8, &mut model);
        bytes_field(7, &graph, &mut model);
        let found = raw_initializers(&model).unwrap();
        assert_eq!(found.len(), 2);
        assert_eq!(
            (found[0].name.as_str(), found[0].data_type, found[0].dims.as_slice(), found[0].raw_data.len()),
            ("w", 1, &[2i64, 3][..], 24)
        );
        assert_eq!((found[1].name.as_str(), found[1].data_type, found[1].dims.as_slice()), ("shape", 7, &[4i64][..]));
    }

    #[test]
    fn truncated_or_garbage_input_is_an_error_not_a_panic() {
        let mut model = Vec::new();
        bytes_field(7, &[0x2a, 0x10, 1, 2], &mut model); // initializer field claiming 16 bytes, holding 2
        assert!(raw_initializers(&model).is_err());
        assert!(raw_initializers(&[0xff; 11]).is_err());
        assert!(raw_initializers(b"").unwrap().is_empty());
    }
}
