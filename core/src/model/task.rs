//! The seven Ultralytics tasks, and the head of a loaded model: what its outputs carry besides boxes.

/// What a model does, from its `task` metadata.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Task {
    /// Boxes with a class and a score.
    Detect,
    /// Boxes plus one instance mask each.
    Segment,
    /// Boxes plus keypoints each.
    Pose,
    /// Oriented (rotated) boxes.
    Obb,
    /// One probability per class for the whole image.
    Classify,
    /// A class for every pixel of the image (semantic segmentation).
    Semantic,
    /// A depth for every pixel of the image (monocular depth estimation).
    Depth,
}

impl Task {
    /// Every task, in the order of their C values.
    pub const ALL: [Task; 7] =
        [Task::Detect, Task::Segment, Task::Pose, Task::Obb, Task::Classify, Task::Semantic, Task::Depth];

    /// The task Ultralytics names `name` (`detect`, `segment`, `pose`, `obb`, `classify`, `semantic`,
    /// `depth`).
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|task| task.name() == name.trim())
    }

    /// Ultralytics' name of the task, NUL-terminated for the C API's `yolo_task_name`: the one place the
    /// names are written.
    pub fn c_name(self) -> &'static std::ffi::CStr {
        match self {
            Self::Detect => c"detect",
            Self::Segment => c"segment",
            Self::Pose => c"pose",
            Self::Obb => c"obb",
            Self::Classify => c"classify",
            Self::Semantic => c"semantic",
            Self::Depth => c"depth",
        }
    }

    /// Ultralytics' name of the task.
    pub fn name(self) -> &'static str {
        self.c_name().to_str().expect("ASCII names")
    }
}

/// What a loaded model's outputs carry, decided at load from the warm-up run (`recognise_head`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Head {
    /// Boxes only.
    Detect,
    /// Each box has `mask_dim` mask coefficients; the second output holds as many prototypes.
    Segment {
        /// Mask coefficients per box, and prototypes in the second output.
        mask_dim: usize,
    },
    /// Each box has `keypoints` keypoints of `dims` values (`x, y` and, with 3, a confidence).
    Pose {
        /// Keypoints per box.
        keypoints: usize,
        /// Values per keypoint, 2 or 3.
        dims: usize,
    },
    /// Each box is a rotated rectangle: centre, size and an angle in radians.
    Obb,
    /// One probability per class.
    Classify,
    /// A class per pixel, from the first output: `[B, H, W]` class ids (an export that ends in an ArgMax,
    /// as Ultralytics' ONNX export does) when `logits` is false, else `[B, classes, H, W]` logits (one
    /// plane: `> 0` is class 1).
    Semantic {
        /// Whether the output holds logits rather than class ids.
        logits: bool,
    },
    /// A depth per pixel, from the first output: `[B, 1, H, W]` or `[B, H, W]`.
    Depth,
}

impl Head {
    /// The task this head serves.
    pub fn task(&self) -> Task {
        match self {
            Self::Detect => Task::Detect,
            Self::Segment { .. } => Task::Segment,
            Self::Pose { .. } => Task::Pose,
            Self::Obb => Task::Obb,
            Self::Classify => Task::Classify,
            Self::Semantic { .. } => Task::Semantic,
            Self::Depth => Task::Depth,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn task_names_round_trip() {
        for task in Task::ALL {
            assert_eq!(Task::from_name(task.name()), Some(task));
        }
        assert_eq!(Task::from_name(" pose\n"), Some(Task::Pose));
        assert_eq!(Task::from_name("semantic"), Some(Task::Semantic));
        assert_eq!(Task::from_name("track"), None);
    }
}
