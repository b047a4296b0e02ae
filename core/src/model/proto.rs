//! Just enough of the ONNX protobuf format to read three things from a model's bytes without ONNX Runtime:
//! its initializers (its weights), so that the sessions of one pool can share a single copy of them; the
//! files its tensors keep as external data, so that a model cannot make the library read outside its
//! folder; and its metadata, decoded even when it is not valid UTF-8 (ONNX Runtime drops such values).
//!
//! Protobuf wire format: each field is a varint key `(number << 3) | wire_type`, then a varint (type 0),
//! 8 bytes (1), a varint length and that many bytes (2), or 4 bytes (5). `ModelProto.graph` is field 7,
//! `ModelProto.metadata_props` 14 and `ModelProto.functions` 25; `GraphProto.node` 1, `initializer` 5 and
//! `sparse_initializer` 15; `NodeProto.attribute` 5 and `FunctionProto.node` 7; in `AttributeProto`: `t` 5,
//! `g` 6, `tensors` 10, `graphs` 11, `sparse_tensor` 22, `sparse_tensors` 23; `SparseTensorProto.values` 1
//! and `indices` 2; in `TensorProto`: `dims` 1, `data_type` 2, `name` 8, `raw_data` 9, `external_data` 13
//! and `data_location` 14 (1 = external file); `StringStringEntryProto.key` 1 and `value` 2.

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

/// The model's metadata entries (`metadata_props`) as `(key, value)`, in file order. Bytes that are not
/// valid UTF-8 are replaced by U+FFFD, as `String::from_utf8_lossy` does; the flag says whether any were.
pub fn metadata_props(model: &[u8]) -> Result<Vec<(String, String, bool)>> {
    let bad = |why: &str| Error::invalid_model(format!("cannot read the ONNX model's metadata: {why}"));
    let mut out = Vec::new();
    for field in Fields::new(model) {
        if let (14, Value::Bytes(entry)) = field.map_err(bad)? {
            let (key, value) = string_pair(entry).map_err(bad)?;
            let lossy = std::str::from_utf8(key).is_err() || std::str::from_utf8(value).is_err();
            out.push((String::from_utf8_lossy(key).into_owned(), String::from_utf8_lossy(value).into_owned(), lossy));
        }
    }
    Ok(out)
}

/// The `location` of every tensor the model stores as external data, in the graph, its subgraphs and its
/// functions, each once, as the bytes the file holds.
pub fn external_data_locations(model: &[u8]) -> Result<Vec<Vec<u8>>> {
    let bad = |why: &str| Error::invalid_model(format!("cannot read the ONNX model's external data: {why}"));
    let mut found = Vec::new();
    for field in Fields::new(model) {
        match field.map_err(bad)? {
            (7, Value::Bytes(graph)) => walk_graph(graph, 0, &mut found).map_err(bad)?,
            (25, Value::Bytes(function)) => {
                for field in Fields::new(function) {
                    if let (7, Value::Bytes(node)) = field.map_err(bad)? {
                        walk_node(node, 0, &mut found).map_err(bad)?;
                    }
                }
            }
            _ => {}
        }
    }
    found.sort();
    found.dedup();
    Ok(found)
}

/// Subgraphs nest no deeper than this (an `If` inside a `Loop` inside ...); deeper is refused rather than
/// recursed into, so that a crafted model cannot exhaust the stack.
const MAX_GRAPH_DEPTH: usize = 64;

type Walk = std::result::Result<(), &'static str>;

fn walk_graph(graph: &[u8], depth: usize, found: &mut Vec<Vec<u8>>) -> Walk {
    if depth > MAX_GRAPH_DEPTH {
        return Err("subgraphs nest too deeply");
    }
    for field in Fields::new(graph) {
        match field? {
            (1, Value::Bytes(node)) => walk_node(node, depth, found)?,
            (5, Value::Bytes(tensor)) => external_location(tensor, found)?,
            (15, Value::Bytes(sparse)) => walk_sparse(sparse, found)?,
            _ => {}
        }
    }
    Ok(())
}

fn walk_node(node: &[u8], depth: usize, found: &mut Vec<Vec<u8>>) -> Walk {
    for field in Fields::new(node) {
        if let (5, Value::Bytes(attribute)) = field? {
            for field in Fields::new(attribute) {
                match field? {
                    (5 | 10, Value::Bytes(tensor)) => external_location(tensor, found)?,
                    (6 | 11, Value::Bytes(graph)) => walk_graph(graph, depth + 1, found)?,
                    (22 | 23, Value::Bytes(sparse)) => walk_sparse(sparse, found)?,
                    _ => {}
                }
            }
        }
    }
    Ok(())
}

fn walk_sparse(sparse: &[u8], found: &mut Vec<Vec<u8>>) -> Walk {
    for field in Fields::new(sparse) {
        if let (1 | 2, Value::Bytes(tensor)) = field? {
            external_location(tensor, found)?;
        }
    }
    Ok(())
}

/// Adds the `location` of `tensor` to `found` when the tensor lives in an external file.
fn external_location(tensor: &[u8], found: &mut Vec<Vec<u8>>) -> Walk {
    let (mut external, mut location) = (false, None);
    for field in Fields::new(tensor) {
        match field? {
            (13, Value::Bytes(entry)) => {
                let (key, value) = string_pair(entry)?;
                if key == b"location" {
                    location = Some(value);
                }
            }
            (14, Value::Varint(data_location)) => external = data_location == 1,
            _ => {}
        }
    }
    match (external, location) {
        (true, Some(location)) => found.push(location.to_vec()),
        (true, None) => return Err("a tensor stored as external data names no location"),
        (false, _) => {}
    }
    Ok(())
}

/// The key and value of a `StringStringEntryProto`, as bytes.
fn string_pair(entry: &[u8]) -> std::result::Result<(&[u8], &[u8]), &'static str> {
    let (mut key, mut value): (&[u8], &[u8]) = (b"", b"");
    for field in Fields::new(entry) {
        match field? {
            (1, Value::Bytes(k)) => key = k,
            (2, Value::Bytes(v)) => value = v,
            _ => {}
        }
    }
    Ok((key, value))
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

    fn entry(key: &[u8], value: &[u8]) -> Vec<u8> {
        let mut e = Vec::new();
        bytes_field(1, key, &mut e);
        bytes_field(2, value, &mut e);
        e
    }

    fn external_tensor(location: &[u8]) -> Vec<u8> {
        let mut t = Vec::new();
        bytes_field(8, b"w", &mut t);
        bytes_field(13, &entry(b"location", location), &mut t);
        bytes_field(13, &entry(b"offset", b"0"), &mut t);
        varint(14 << 3, &mut t);
        varint(1, &mut t);
        t
    }

    #[test]
    fn metadata_is_read_lossily_and_flagged() {
        let mut model = Vec::new();
        bytes_field(14, &entry(b"names", b"{0: 'caf\xe9'}"), &mut model);
        bytes_field(14, &entry(b"stride", b"32"), &mut model);
        let props = metadata_props(&model).unwrap();
        assert_eq!(props[0], ("names".into(), "{0: 'caf\u{fffd}'}".into(), true));
        assert_eq!(props[1], ("stride".into(), "32".into(), false));
    }

    #[test]
    fn external_data_is_found_in_graphs_subgraphs_sparse_tensors_and_functions() {
        let mut subgraph = Vec::new();
        bytes_field(5, &external_tensor(b"in_subgraph.bin"), &mut subgraph);
        let mut attribute = Vec::new();
        bytes_field(6, &subgraph, &mut attribute);
        bytes_field(5, &external_tensor(b"constant.bin"), &mut attribute);
        let mut node = Vec::new();
        bytes_field(5, &attribute, &mut node);
        let mut sparse = Vec::new();
        bytes_field(1, &external_tensor(b"sparse.bin"), &mut sparse);
        let mut graph = Vec::new();
        bytes_field(1, &node, &mut graph);
        bytes_field(5, &external_tensor(b"weights.bin"), &mut graph);
        bytes_field(5, &external_tensor(b"weights.bin"), &mut graph);
        bytes_field(5, &tensor("inline", 1, &[1], &[0; 4], false), &mut graph);
        bytes_field(15, &sparse, &mut graph);
        let mut function = Vec::new();
        let mut function_node = Vec::new();
        let mut function_attribute = Vec::new();
        bytes_field(5, &external_tensor(b"in_function.bin"), &mut function_attribute);
        bytes_field(5, &function_attribute, &mut function_node);
        bytes_field(7, &function_node, &mut function);
        let mut model = Vec::new();
        bytes_field(7, &graph, &mut model);
        bytes_field(25, &function, &mut model);
        let found = external_data_locations(&model).unwrap();
        let names: Vec<&[u8]> = found.iter().map(Vec::as_slice).collect();
        assert_eq!(
            names,
            [&b"constant.bin"[..], b"in_function.bin", b"in_subgraph.bin", b"sparse.bin", b"weights.bin"]
        );
        assert!(raw_initializers(&model).unwrap().iter().all(|i| i.name == "inline"), "external ones are not inline");
    }

    #[test]
    fn deeply_nested_subgraphs_are_refused_not_recursed_into() {
        let mut graph = Vec::new();
        for _ in 0..(MAX_GRAPH_DEPTH + 2) {
            let mut attribute = Vec::new();
            bytes_field(6, &graph, &mut attribute);
            let mut node = Vec::new();
            bytes_field(5, &attribute, &mut node);
            graph.clear();
            bytes_field(1, &node, &mut graph);
        }
        let mut model = Vec::new();
        bytes_field(7, &graph, &mut model);
        assert!(external_data_locations(&model).unwrap_err().message().contains("nest too deeply"));
        let mut t = Vec::new();
        varint(14 << 3, &mut t);
        varint(1, &mut t);
        let mut graph = Vec::new();
        bytes_field(5, &t, &mut graph);
        let mut model = Vec::new();
        bytes_field(7, &graph, &mut model);
        assert!(external_data_locations(&model).unwrap_err().message().contains("names no location"));
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
