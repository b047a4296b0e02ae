//! Which of the YOLO output layouts a model produces, decided from the output shape and the metadata.

use super::metadata::ModelMetadata;
use crate::error::{Error, Result};

/// The layout of a detection model's first output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// `[B, 4 + nc, N]`: box centre and size, then one score per class (YOLOv8, v9, v11, v12, v5u).
    ChannelsFirst {
        /// Number of classes.
        num_classes: usize,
    },
    /// `[B, N, 5 + nc]`: box centre and size, objectness, then class scores (classic YOLOv5, YOLOv7).
    AnchorsWithObjectness {
        /// Number of classes.
        num_classes: usize,
    },
    /// `[B, K, 6]`: `x1, y1, x2, y2, score, class` already selected by the model (YOLOv10, YOLO26, NMS export).
    EndToEnd,
}

impl OutputLayout {
    /// Image `index` of a run's output of `shape` holding `data`, checked against this layout: the rule a
    /// later run's output must keep once [`classify_output`] chose the layout at load. `None` when the
    /// shape no longer fits (the caller reports it) or `index` is beyond the batch.
    pub fn image_output<'a>(&self, shape: &[i64], data: &'a [f32], index: usize) -> Option<(&'a [f32], usize, usize)> {
        let &[batch, rows, cols] = shape else { return None };
        let (rows, cols) = (usize::try_from(rows).ok()?, usize::try_from(cols).ok()?);
        let fits = match *self {
            Self::ChannelsFirst { num_classes } => rows == 4 + num_classes,
            Self::AnchorsWithObjectness { num_classes } => cols == 5 + num_classes,
            Self::EndToEnd => cols == 6,
        };
        let per_image = rows.checked_mul(cols)?;
        let start = index.checked_mul(per_image)?;
        let in_batch = usize::try_from(batch).is_ok_and(|batch| index < batch);
        let image = data.get(start..start.checked_add(per_image)?)?;
        (fits && in_batch).then_some((image, rows, cols))
    }
}

/// Number of anchor rows a classic YOLOv5 head emits for an input: 3 anchors per cell at strides 8, 16, 32.
fn yolov5_anchor_rows(input_height: u32, input_width: u32) -> i64 {
    [8u32, 16, 32].iter().map(|&s| 3 * i64::from(input_height.div_ceil(s)) * i64::from(input_width.div_ceil(s))).sum()
}

/// Decides the layout from a concrete output `shape` (no dynamic dimensions), the input size it came from and
/// the model's metadata. An output that fits none of the layouts is an invalid-model error naming the shape.
pub fn classify_output(
    shape: &[i64],
    input_height: u32,
    input_width: u32,
    meta: &ModelMetadata,
) -> Result<OutputLayout> {
    let unsupported = |why: &str| Error::invalid_model(format!("unsupported output shape {shape:?}: {why}"));
    let &[batch, rows, cols] = shape else {
        return Err(unsupported(
            "expected 3 dimensions, [batch, 4+classes, boxes], [batch, boxes, 5+classes] or [batch, boxes, 6]",
        ));
    };
    if batch < 1 || rows < 1 || cols < 1 {
        return Err(unsupported("every dimension must be at least 1"));
    }
    let known_classes = meta.names.as_ref().map(Vec::len);

    if cols == 6 {
        // Ultralytics treats every `[.., 6]` output as end-to-end. The one real exception is a classic
        // YOLOv5 head with a single class, which has exactly the anchor rows of its input size.
        let one_class_yolov5 = rows == yolov5_anchor_rows(input_height, input_width)
            && known_classes.is_none_or(|nc| nc == 1)
            && meta.end2end != Some(true)
            && !meta.nms_in_graph;
        if !one_class_yolov5 {
            return Ok(OutputLayout::EndToEnd);
        }
    }
    if meta.end2end == Some(true) || meta.nms_in_graph {
        return Err(unsupported("the metadata says end-to-end, which needs [batch, boxes, 6]"));
    }
    let rows = rows as usize;
    let cols = cols as usize;
    match known_classes {
        Some(nc) if rows == 4 + nc => Ok(OutputLayout::ChannelsFirst { num_classes: nc }),
        Some(nc) if cols == 5 + nc => Ok(OutputLayout::AnchorsWithObjectness { num_classes: nc }),
        Some(nc) => Err(unsupported(&format!(
            "the model names {nc} classes, so expected [batch, {}, boxes] or [batch, boxes, {}]",
            4 + nc,
            5 + nc
        ))),
        // Without names, the smaller dimension holds the channels: heads emit far more boxes than classes.
        None if rows < cols && rows > 4 => Ok(OutputLayout::ChannelsFirst { num_classes: rows - 4 }),
        None if cols <= rows && cols > 5 => Ok(OutputLayout::AnchorsWithObjectness { num_classes: cols - 5 }),
        None => Err(unsupported("too few channels for boxes and class scores")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(names: Option<usize>, end2end: Option<bool>) -> ModelMetadata {
        ModelMetadata {
            names: names.map(|n| (0..n).map(|i| format!("c{i}")).collect()),
            end2end,
            ..ModelMetadata::default()
        }
    }

    #[test]
    fn recognises_each_layout() {
        let m80 = meta(Some(80), None);
        assert_eq!(
            classify_output(&[1, 84, 8400], 640, 640, &m80).unwrap(),
            OutputLayout::ChannelsFirst { num_classes: 80 }
        );
        assert_eq!(
            classify_output(&[1, 25200, 85], 640, 640, &m80).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 80 }
        );
        assert_eq!(
            classify_output(&[1, 300, 6], 640, 640, &meta(Some(80), Some(true))).unwrap(),
            OutputLayout::EndToEnd
        );
        assert_eq!(classify_output(&[1, 300, 6], 640, 640, &m80).unwrap(), OutputLayout::EndToEnd);
    }

    #[test]
    fn a_later_output_must_keep_the_layout_found_at_load() {
        let data: Vec<f32> = (0..2 * 7 * 3).map(|v| v as f32).collect();
        let layout = OutputLayout::ChannelsFirst { num_classes: 3 };
        assert_eq!(layout.image_output(&[2, 7, 3], &data, 1), Some((&data[21..42], 7, 3)));
        assert_eq!(layout.image_output(&[2, 7, 3], &data, 2), None, "beyond the batch");
        assert_eq!(layout.image_output(&[2, 8, 3], &data, 0), None, "another class count");
        assert_eq!(layout.image_output(&[1, 7], &data, 0), None, "two dimensions");
        assert_eq!(layout.image_output(&[3, 7, 3], &data, 2), None, "more than the data holds");
        assert_eq!(OutputLayout::EndToEnd.image_output(&[1, 7, 6], &data, 0), Some((&data[..42], 7, 6)));
        assert_eq!(OutputLayout::EndToEnd.image_output(&[1, i64::MAX, 6], &data, 0), None);
    }

    #[test]
    fn infers_class_count_without_names() {
        let none = meta(None, None);
        assert_eq!(
            classify_output(&[1, 22, 2100], 320, 320, &none).unwrap(),
            OutputLayout::ChannelsFirst { num_classes: 18 }
        );
        assert_eq!(
            classify_output(&[1, 6300, 7], 320, 320, &none).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 2 }
        );
    }

    #[test]
    fn tells_one_class_yolov5_from_end_to_end() {
        assert_eq!(
            classify_output(&[1, 25200, 6], 640, 640, &meta(Some(1), None)).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 1 }
        );
        assert_eq!(
            classify_output(&[1, 25200, 6], 640, 640, &meta(Some(1), Some(true))).unwrap(),
            OutputLayout::EndToEnd
        );
    }

    #[test]
    fn rejects_shapes_that_fit_nothing_and_names_them() {
        let m80 = meta(Some(80), None);
        for shape in [&[1, 116, 8400][..], &[1, 1000], &[1, 84, 8400, 1], &[0, 84, 8400], &[1, 3, 2]] {
            let err = classify_output(shape, 640, 640, &m80).unwrap_err();
            assert!(err.message().contains(&format!("{shape:?}")), "{err}");
        }
        assert!(classify_output(&[1, 84, 8400], 640, 640, &meta(Some(80), Some(true))).is_err());
    }
}
