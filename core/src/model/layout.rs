//! Which of the YOLO output layouts a model produces, decided from the output shapes, the task and the
//! metadata.

use super::metadata::ModelMetadata;
use super::task::{Head, Task};
use crate::error::{Error, Result};

/// The layout of a model's first output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputLayout {
    /// `[B, 4 + nc + extra, N]`: box centre and size, one score per class, then `extra` values of the task
    /// (mask coefficients, keypoints or the angle; none for detection). YOLOv8, v9, v11, v12, v5u.
    ChannelsFirst {
        /// Number of classes.
        num_classes: usize,
        /// Values per box after the class scores.
        extra: usize,
    },
    /// `[B, N, 5 + nc]`: box centre and size, objectness, then class scores (classic YOLOv5, YOLOv7).
    AnchorsWithObjectness {
        /// Number of classes.
        num_classes: usize,
    },
    /// `[B, K, 6 + extra]`: `x1, y1, x2, y2, score, class` already selected by the model (YOLOv10, YOLO26,
    /// NMS export), then `extra` values of the task. Oriented boxes give `cx, cy, w, h` instead of corners.
    EndToEnd {
        /// Values per box after the class.
        extra: usize,
    },
    /// `[B, K, 6]`: RT-DETR's queries as Ultralytics 8.4 exports them, already the top `K` (query, class)
    /// pairs by score: `cx, cy, w, h` normalised to the input, score, class.
    DetrTopK,
    /// `[B, K, 4 + nc]`: RT-DETR's queries as earlier exports give them: `cx, cy, w, h` normalised to the
    /// input, then one score per class.
    DetrScores {
        /// Number of classes.
        num_classes: usize,
    },
    /// `[B, nc]`: one probability per class (classification).
    Probabilities {
        /// Number of classes.
        num_classes: usize,
    },
    /// `[B, planes, H, W]`, or `[B, H, W]` for one plane: a value per pixel of the model input, or of a
    /// grid that is resized to it (semantic segmentation's class ids or logits, depth).
    Map {
        /// Values per pixel.
        planes: usize,
    },
}

impl OutputLayout {
    /// Image `index` of a run's output of `shape` holding `data`, checked against this layout: the rule a
    /// later run's output must keep once [`recognise_head`] chose the layout at load. `None` when the
    /// shape no longer fits (the caller reports it) or `index` is beyond the batch. Probabilities come as
    /// one row; a map as its `H` rows of `W` values, plane after plane.
    pub fn image_output<'a>(&self, shape: &[i64], data: &'a [f32], index: usize) -> Option<(&'a [f32], usize, usize)> {
        let (batch, planes, rows, cols) = match (*self, shape) {
            (Self::Probabilities { .. }, &[batch, classes]) => (batch, 1, 1, classes),
            (Self::Map { planes: 1 }, &[batch, rows, cols]) => (batch, 1, rows, cols),
            (Self::Map { .. }, &[batch, planes, rows, cols]) => (batch, planes, rows, cols),
            (Self::Probabilities { .. } | Self::Map { .. }, _) => return None,
            (_, &[batch, rows, cols]) => (batch, 1, rows, cols),
            _ => return None,
        };
        let (planes, rows, cols) =
            (usize::try_from(planes).ok()?, usize::try_from(rows).ok()?, usize::try_from(cols).ok()?);
        let fits = match *self {
            Self::ChannelsFirst { num_classes, extra } => rows == 4 + num_classes + extra,
            Self::AnchorsWithObjectness { num_classes } => cols == 5 + num_classes,
            Self::EndToEnd { extra } => cols == 6 + extra,
            Self::DetrTopK => cols == 6,
            Self::DetrScores { num_classes } => cols == 4 + num_classes,
            Self::Probabilities { num_classes } => cols == num_classes,
            Self::Map { planes: expected } => planes == expected && rows > 0 && cols > 0,
        };
        let per_image = planes.checked_mul(rows)?.checked_mul(cols)?;
        let start = index.checked_mul(per_image)?;
        let in_batch = usize::try_from(batch).is_ok_and(|batch| index < batch);
        let image = data.get(start..start.checked_add(per_image)?)?;
        (fits && in_batch).then_some((image, rows, cols))
    }

    /// The number of classes the output holds; `None` for end-to-end outputs, which do not say.
    pub fn class_count(&self) -> Option<usize> {
        match *self {
            Self::ChannelsFirst { num_classes, .. }
            | Self::AnchorsWithObjectness { num_classes }
            | Self::DetrScores { num_classes }
            | Self::Probabilities { num_classes } => Some(num_classes),
            Self::EndToEnd { .. } | Self::DetrTopK | Self::Map { .. } => None,
        }
    }

    /// Whether the model's input is the image stretched to the input size rather than letterboxed, and
    /// its boxes are fractions of the input: RT-DETR's (Ultralytics' `RTDETRPredictor`).
    pub fn is_detr(&self) -> bool {
        matches!(self, Self::DetrTopK | Self::DetrScores { .. })
    }
}

/// Decides the task's head and the first output's layout from the concrete output `shapes` of a run (no
/// dynamic dimensions), the input size it came from and the metadata. The task is the metadata's `task`;
/// a model without one is a segmenter if it has a second, four-dimensional output, else a detector (a
/// classifier must say so: a two-dimensional output alone is no proof). Outputs that do not fit the task
/// are an invalid-model error naming the shapes.
pub fn recognise_head(
    shapes: &[Vec<i64>],
    input_height: u32,
    input_width: u32,
    meta: &ModelMetadata,
) -> Result<(Head, OutputLayout)> {
    let Some(first) = shapes.first() else { return Err(Error::invalid_model("the model has no outputs")) };
    let task = match meta.task.as_deref() {
        Some(name) => Task::from_name(name).ok_or_else(|| {
            Error::invalid_model(format!(
                "the model's task is '{name}'; supported tasks are {}",
                Task::ALL.map(Task::name).join(", ")
            ))
        })?,
        None if shapes.get(1).is_some_and(|s| s.len() == 4) => Task::Segment,
        None => Task::Detect,
    };
    let mismatch =
        |why: String| Error::invalid_model(format!("a {} model's outputs {shapes:?} do not fit: {why}", task.name()));
    let known_classes = meta.names.as_ref().map(Vec::len);
    // The channels-first or end-to-end layout of a task whose boxes carry `extra` values.
    let with_extra = |extra: usize, head: Head| -> Result<(Head, OutputLayout)> {
        let &[batch, rows, cols] = first.as_slice() else {
            return Err(mismatch(format!(
                "expected [batch, 4 + classes + {extra}, boxes] or [batch, boxes, {}]",
                6 + extra
            )));
        };
        if batch < 1 || rows < 1 || cols < 1 {
            return Err(mismatch("every dimension must be at least 1".into()));
        }
        let (rows, cols) = (rows as usize, cols as usize);
        let end_to_end = meta.end2end == Some(true) || meta.nms_in_graph;
        if cols == 6 + extra && (end_to_end || known_classes.is_none_or(|nc| rows != 4 + nc + extra)) {
            return Ok((head, OutputLayout::EndToEnd { extra }));
        }
        if end_to_end {
            return Err(mismatch(format!("the metadata says end-to-end, which needs [batch, boxes, {}]", 6 + extra)));
        }
        let num_classes = match known_classes {
            Some(nc) if rows == 4 + nc + extra => nc,
            Some(nc) => {
                return Err(mismatch(format!(
                    "the model names {nc} classes, so expected [batch, {}, boxes] or [batch, boxes, {}]",
                    4 + nc + extra,
                    6 + extra
                )))
            }
            None if rows > 4 + extra => rows - 4 - extra,
            None => return Err(mismatch(format!("too few channels for boxes, class scores and {extra} more values"))),
        };
        Ok((head, OutputLayout::ChannelsFirst { num_classes, extra }))
    };
    match task {
        Task::Detect => {
            let layout = detection_layout(first, input_height, input_width, meta)?;
            Ok((Head::Detect, layout))
        }
        Task::Segment => {
            let Some(&[batch, mask_dim, proto_h, proto_w]) = shapes.get(1).map(Vec::as_slice) else {
                return Err(mismatch("expected a second output of prototypes, [batch, masks, height, width]".into()));
            };
            if batch != first[0] || mask_dim < 1 || proto_h < 1 || proto_w < 1 {
                return Err(mismatch("the prototypes must be [batch, masks, height, width], each at least 1".into()));
            }
            with_extra(mask_dim as usize, Head::Segment { mask_dim: mask_dim as usize })
        }
        Task::Pose => {
            let Some((keypoints, dims)) = meta.kpt_shape else {
                return Err(mismatch("the metadata has no 'kpt_shape'".into()));
            };
            if keypoints == 0 {
                return Err(mismatch("'kpt_shape' names 0 keypoints".into()));
            }
            with_extra(keypoints * dims, Head::Pose { keypoints, dims })
        }
        Task::Obb => with_extra(1, Head::Obb),
        Task::Classify => match first.as_slice() {
            &[batch, classes]
                if batch >= 1 && classes >= 1 && known_classes.is_none_or(|nc| nc == classes as usize) =>
            {
                Ok((Head::Classify, OutputLayout::Probabilities { num_classes: classes as usize }))
            }
            _ => Err(mismatch(match known_classes {
                Some(nc) => format!("expected [batch, {nc}], one probability per class"),
                None => "expected [batch, classes]".into(),
            })),
        },
        // Ultralytics' rule: a map without a plane axis holds class ids (an export ending in an ArgMax),
        // one with it logits, a plane per class.
        Task::Semantic => match *first.as_slice() {
            [batch, height, width] if batch >= 1 && height >= 1 && width >= 1 => {
                Ok((Head::Semantic { logits: false }, OutputLayout::Map { planes: 1 }))
            }
            [batch, planes, height, width]
                if batch >= 1
                    && height >= 1
                    && width >= 1
                    && planes >= 1
                    && known_classes.is_none_or(|nc| nc == planes as usize || (nc <= 2 && planes == 1)) =>
            {
                Ok((Head::Semantic { logits: true }, OutputLayout::Map { planes: planes as usize }))
            }
            _ => Err(mismatch(match known_classes {
                Some(nc) => format!("expected [batch, height, width] class ids or [batch, {nc}, height, width] logits"),
                None => "expected [batch, height, width] class ids or [batch, classes, height, width] logits".into(),
            })),
        },
        Task::Depth => match *first.as_slice() {
            [batch, height, width] | [batch, 1, height, width] if batch >= 1 && height >= 1 && width >= 1 => {
                Ok((Head::Depth, OutputLayout::Map { planes: 1 }))
            }
            _ => Err(mismatch("expected [batch, 1, height, width] or [batch, height, width]".into())),
        },
    }
}

/// Number of anchor rows a classic YOLOv5 head emits for an input: 3 anchors per cell at strides 8, 16, 32.
fn yolov5_anchor_rows(input_height: u32, input_width: u32) -> i64 {
    [8u32, 16, 32].iter().map(|&s| 3 * i64::from(input_height.div_ceil(s)) * i64::from(input_width.div_ceil(s))).sum()
}

/// Decides a detection model's layout from a concrete output `shape` (no dynamic dimensions), the input size
/// it came from and the model's metadata. An output that fits none of the layouts is an invalid-model error
/// naming the shape.
pub fn detection_layout(
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

    if meta.rtdetr {
        // Exports that name their head (Ultralytics 8.4) give the top-k form; earlier ones the class scores,
        // which with two classes is 6 wide too.
        let top_k_export = meta.head.is_some();
        return match (cols as usize, known_classes) {
            (6, _) if top_k_export => Ok(OutputLayout::DetrTopK),
            (cols, Some(nc)) if cols == 4 + nc => Ok(OutputLayout::DetrScores { num_classes: nc }),
            (6, _) => Ok(OutputLayout::DetrTopK),
            (cols, None) if cols > 4 => Ok(OutputLayout::DetrScores { num_classes: cols - 4 }),
            _ => Err(unsupported("an RT-DETR model gives [batch, queries, 6] or [batch, queries, 4 + classes]")),
        };
    }
    if cols == 6 {
        // Ultralytics treats every `[.., 6]` output as end-to-end. The one real exception is a classic
        // YOLOv5 head with a single class, which has exactly the anchor rows of its input size.
        let one_class_yolov5 = rows == yolov5_anchor_rows(input_height, input_width)
            && known_classes.is_none_or(|nc| nc == 1)
            && meta.end2end != Some(true)
            && !meta.nms_in_graph;
        if !one_class_yolov5 {
            return Ok(OutputLayout::EndToEnd { extra: 0 });
        }
    }
    if meta.end2end == Some(true) || meta.nms_in_graph {
        return Err(unsupported("the metadata says end-to-end, which needs [batch, boxes, 6]"));
    }
    let rows = rows as usize;
    let cols = cols as usize;
    match known_classes {
        Some(nc) if rows == 4 + nc => Ok(OutputLayout::ChannelsFirst { num_classes: nc, extra: 0 }),
        Some(nc) if cols == 5 + nc => Ok(OutputLayout::AnchorsWithObjectness { num_classes: nc }),
        Some(nc) => Err(unsupported(&format!(
            "the model names {nc} classes, so expected [batch, {}, boxes] or [batch, boxes, {}]",
            4 + nc,
            5 + nc
        ))),
        // Without names, the smaller dimension holds the channels: heads emit far more boxes than classes.
        None if rows < cols && rows > 4 => Ok(OutputLayout::ChannelsFirst { num_classes: rows - 4, extra: 0 }),
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
            detection_layout(&[1, 84, 8400], 640, 640, &m80).unwrap(),
            OutputLayout::ChannelsFirst { num_classes: 80, extra: 0 }
        );
        assert_eq!(
            detection_layout(&[1, 25200, 85], 640, 640, &m80).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 80 }
        );
        assert_eq!(
            detection_layout(&[1, 300, 6], 640, 640, &meta(Some(80), Some(true))).unwrap(),
            OutputLayout::EndToEnd { extra: 0 }
        );
        assert_eq!(detection_layout(&[1, 300, 6], 640, 640, &m80).unwrap(), OutputLayout::EndToEnd { extra: 0 });
    }

    #[test]
    fn a_later_output_must_keep_the_layout_found_at_load() {
        let data: Vec<f32> = (0..2 * 7 * 3).map(|v| v as f32).collect();
        let layout = OutputLayout::ChannelsFirst { num_classes: 3, extra: 0 };
        assert_eq!(layout.image_output(&[2, 7, 3], &data, 1), Some((&data[21..42], 7, 3)));
        assert_eq!(layout.image_output(&[2, 7, 3], &data, 2), None, "beyond the batch");
        assert_eq!(layout.image_output(&[2, 8, 3], &data, 0), None, "another class count");
        assert_eq!(layout.image_output(&[1, 7], &data, 0), None, "two dimensions");
        assert_eq!(layout.image_output(&[3, 7, 3], &data, 2), None, "more than the data holds");
        assert_eq!(OutputLayout::EndToEnd { extra: 0 }.image_output(&[1, 7, 6], &data, 0), Some((&data[..42], 7, 6)));
        assert_eq!(OutputLayout::EndToEnd { extra: 0 }.image_output(&[1, i64::MAX, 6], &data, 0), None);
    }

    #[test]
    fn infers_class_count_without_names() {
        let none = meta(None, None);
        assert_eq!(
            detection_layout(&[1, 22, 2100], 320, 320, &none).unwrap(),
            OutputLayout::ChannelsFirst { num_classes: 18, extra: 0 }
        );
        assert_eq!(
            detection_layout(&[1, 6300, 7], 320, 320, &none).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 2 }
        );
    }

    #[test]
    fn tells_one_class_yolov5_from_end_to_end() {
        assert_eq!(
            detection_layout(&[1, 25200, 6], 640, 640, &meta(Some(1), None)).unwrap(),
            OutputLayout::AnchorsWithObjectness { num_classes: 1 }
        );
        assert_eq!(
            detection_layout(&[1, 25200, 6], 640, 640, &meta(Some(1), Some(true))).unwrap(),
            OutputLayout::EndToEnd { extra: 0 }
        );
    }

    #[test]
    fn rejects_shapes_that_fit_nothing_and_names_them() {
        let m80 = meta(Some(80), None);
        for shape in [&[1, 116, 8400][..], &[1, 1000], &[1, 84, 8400, 1], &[0, 84, 8400], &[1, 3, 2]] {
            let err = detection_layout(shape, 640, 640, &m80).unwrap_err();
            assert!(err.message().contains(&format!("{shape:?}")), "{err}");
        }
        assert!(detection_layout(&[1, 84, 8400], 640, 640, &meta(Some(80), Some(true))).is_err());
    }
}
