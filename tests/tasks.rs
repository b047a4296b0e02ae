//! Every Ultralytics task through the C ABI: parity with Ultralytics' `predict` on the trained shapes
//! models, YOLO11 (`../shared/reference/ultralytics-tasks.json`) and YOLO26 with its end-to-end heads
//! (`ultralytics-tasks26.json`), at the tolerances of docs/tasks.md, and the batch and pixel-buffer calls
//! giving the single call's results.
//!
//! Developers and CI only: the trained models and the reference exist only in `../shared/`, so these tests
//! skip (and say so) in a user's clone; `tests/task_heads.rs` covers the decoders on synthetic models.

mod common;

use common::*;
use serde_json::Value;
use yolo_ffi::*;

/// Scores this close to the threshold may fall on either side of it (the reference file says so).
const THRESHOLD_MARGIN: f32 = 0.02;

struct Fixtures {
    /// Where the reference's model files are.
    models: std::path::PathBuf,
    /// `../shared/images/tasks`.
    images: std::path::PathBuf,
    reference: Value,
}

/// The YOLO11 shapes models' reference.
const YOLO11: &str = "ultralytics-tasks.json";
/// The YOLO26 shapes models' reference (end-to-end heads).
const YOLO26: &str = "ultralytics-tasks26.json";

fn fixtures(reference: &str, what: &str) -> Option<Fixtures> {
    let dir = shared_or_skip(what)?;
    let path = dir.join("reference").join(reference);
    let reference = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    Some(Fixtures { models: dir.join("models"), images: dir.join("images/tasks"), reference })
}

/// The export variants: the shared models exported again with other options (the one-to-many head,
/// `nms=True`, fp16, a static shape) by `scripts/make_export_variants.py`, with Ultralytics' predictions
/// on them; `scripts/assemble_export_variants.py` (run by `make test-rust`) rebuilds the files from their
/// committed graphs and the shared weights into `build/export-variants`.
fn variants(what: &str) -> Option<Fixtures> {
    let dir = shared_or_skip(what)?;
    let root = std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let path = root.join("tests/fixtures/export-variants/reference.json");
    let reference: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let models = root.join("build/export-variants");
    for entry in reference["models"].as_object().unwrap().values() {
        let file = models.join(entry["file"].as_str().unwrap());
        assert!(file.exists(), "{what}: {} is missing: run `make export-variants`", file.display());
    }
    Some(Fixtures { models, images: dir.join("images/tasks"), reference })
}

/// The reference's `[class, score, x1, y1, x2, y2]` rows of an image.
fn expected_boxes(image: &Value) -> Vec<(u32, f32, [f32; 4])> {
    let rows = image["detections"].as_array().unwrap();
    rows.iter()
        .map(|row| {
            let v = numbers(row);
            (v[0] as u32, v[1], [v[2], v[3], v[4], v[5]])
        })
        .collect()
}

/// `yolo_detect` on one of the task images, everything copied out.
fn detect_file(f: &Fixtures, detector: &Detector, file: &str, options: Option<&Options>) -> TaskResult {
    let bytes = std::fs::read(f.images.join(file)).unwrap();
    detect_task(detector, &bytes, options).unwrap_or_else(|e| panic!("{file}: {e:?}"))
}

fn numbers(v: &Value) -> Vec<f32> {
    v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap() as f32).collect()
}

/// Opens the reference's model `key` (a task, or a variant's name) with the run's settings.
fn open(f: &Fixtures, key: &str, settings: &Value) -> (Detector, Options) {
    let model = f.reference["models"][key]["file"].as_str().unwrap();
    let detector = init_with(&f.models.join(model), |c| {
        c.pool_size = Some(1);
        c.imgsz = Some(settings["imgsz"].as_u64().unwrap() as u32);
    })
    .unwrap_or_else(|e| panic!("{model}: {e:?}"));
    let options = options(TestOptions {
        conf_threshold: Some(settings["conf"].as_f64().unwrap() as f32),
        iou_threshold: Some(settings["iou"].as_f64().unwrap() as f32),
        max_detections: Some(settings["max_det"].as_u64().unwrap() as u32),
        class_agnostic: Some(settings["agnostic_nms"].as_bool().unwrap()),
    });
    if let Some(retina) = settings.get("retina_masks").and_then(Value::as_bool) {
        // SAFETY: live options.
        assert_eq!(unsafe { yolo_detect_options_set_retina_masks(options.0, retina) }, yolo_status::Ok);
    }
    (detector, options)
}

/// The runs of model `key` that this library's settings reproduce: rect=False asks Ultralytics for the
/// full square on a dynamic model, which the library does not offer.
fn runs<'a>(f: &'a Fixtures, key: &str) -> impl Iterator<Item = &'a Value> {
    f.reference["models"][key]["runs"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|run| run["settings"]["rect"].as_bool() != Some(false))
}

/// Matches reference boxes (class, score, box) to ours greedily by IoU of the axis-aligned boxes: a pair
/// must have the same class, IoU >= 0.95 and scores within 0.02. Returns, for each reference box, the
/// index of ours; unmatched boxes on either side fail the test unless their score is within the margin of
/// the threshold.
fn match_boxes(
    label: &str,
    expected: &[(u32, f32, [f32; 4])],
    got: &[yolo_detection],
    conf: f32,
    failures: &mut Vec<String>,
) -> Vec<Option<usize>> {
    let mut taken = vec![false; got.len()];
    let mut pairs = Vec::new();
    for (class, score, bbox) in expected {
        let best = got
            .iter()
            .enumerate()
            .filter(|(i, d)| !taken[*i] && d.class_id == *class)
            .map(|(i, d)| (i, iou(bbox, &[d.x1, d.y1, d.x2, d.y2]), d.score))
            .max_by(|a, b| a.1.total_cmp(&b.1));
        match best {
            Some((i, overlap, s)) if overlap >= 0.95 && (s - score).abs() <= 0.02 => {
                taken[i] = true;
                pairs.push(Some(i));
            }
            other => {
                if (score - conf).abs() > THRESHOLD_MARGIN {
                    failures.push(format!(
                        "{label}: reference class {class} score {score} {bbox:?} unmatched (best {other:?})"
                    ));
                }
                pairs.push(None);
            }
        }
    }
    for (d, _) in got.iter().zip(&taken).filter(|(_, t)| !**t) {
        if (d.score - conf).abs() > THRESHOLD_MARGIN {
            failures.push(format!(
                "{label}: extra box class {} score {} [{} {} {} {}]",
                d.class_id, d.score, d.x1, d.y1, d.x2, d.y2
            ));
        }
    }
    pairs
}

/// Decodes the reference's run lengths (0-run first) into a `height` x `width` bitmap.
fn rle_decode(rle: &Value, len: usize) -> Vec<bool> {
    let mut out = Vec::with_capacity(len);
    for (i, run) in rle.as_array().unwrap().iter().enumerate() {
        out.extend(std::iter::repeat_n(i % 2 == 1, run.as_u64().unwrap() as usize));
    }
    assert_eq!(out.len(), len);
    out
}

/// The area a polygon encloses (shoelace formula).
fn shoelace(points: &[[f32; 2]]) -> f32 {
    let n = points.len();
    (0..n).map(|i| points[i][0] * points[(i + 1) % n][1] - points[(i + 1) % n][0] * points[i][1]).sum::<f32>().abs()
        / 2.0
}

fn mask_iou(a: &[bool], b: &[bool]) -> f32 {
    let inter = a.iter().zip(b).filter(|(x, y)| **x && **y).count();
    let union = a.iter().zip(b).filter(|(x, y)| **x || **y).count();
    if union == 0 {
        1.0
    } else {
        inter as f32 / union as f32
    }
}

fn report(what: &str, compared: usize, failures: Vec<String>) {
    eprintln!("{what}: {compared} compared, {} failures", failures.len());
    assert!(compared > 0, "{what}: nothing compared");
    assert!(failures.is_empty(), "{what}:\n{}", failures.join("\n"));
}

#[test]
fn yolo26_detection_matches_ultralytics() {
    if let Some(f) = fixtures(YOLO26, "yolo26 detection matches ultralytics") {
        check_detect(&f, "detect", "yolo26 detect");
    }
}

fn check_detect(f: &Fixtures, key: &str, what: &str) {
    let (mut compared, mut failures) = (0, Vec::new());
    for run in runs(f, key) {
        let settings = &run["settings"];
        let (detector, options) = open(f, key, settings);
        let conf = settings["conf"].as_f64().unwrap() as f32;
        for image in run["images"].as_array().unwrap() {
            let file = image["file"].as_str().unwrap();
            let label = format!("{} {file}", run["id"].as_str().unwrap());
            let got = detect_file(f, &detector, file, Some(&options));
            let expected = expected_boxes(image);
            let pairs = match_boxes(&label, &expected, &got.detections, conf, &mut failures);
            compared += pairs.iter().flatten().count();
        }
    }
    report(what, compared, failures);
}

#[test]
fn segmentation_boxes_and_masks_match_ultralytics() {
    if let Some(f) = fixtures(YOLO11, "segmentation boxes and masks match ultralytics") {
        check_segment(&f, "segment", "segmentation boxes and masks match ultralytics");
    }
}

#[test]
fn yolo26_segmentation_boxes_and_masks_match_ultralytics() {
    if let Some(f) = fixtures(YOLO26, "yolo26 segmentation boxes and masks match ultralytics") {
        check_segment(&f, "segment", "yolo26 segmentation boxes and masks match ultralytics");
    }
}

fn check_segment(f: &Fixtures, key: &str, what: &str) {
    let (mut compared, mut failures, mut worst) = (0, Vec::new(), (1.0f32, String::new()));
    let mut polygon_worst = 1.0f32;
    for run in runs(f, key) {
        let settings = &run["settings"];
        let (detector, options) = open(f, key, settings);
        let conf = settings["conf"].as_f64().unwrap() as f32;
        for image in run["images"].as_array().unwrap() {
            let file = image["file"].as_str().unwrap();
            let label = format!("{} {file}", run["id"].as_str().unwrap());
            let got = detect_file(f, &detector, file, Some(&options));
            assert_eq!(got.masks.len(), got.detections.len(), "{label}: one mask per detection");
            let expected = expected_boxes(image);
            let pairs = match_boxes(&label, &expected, &got.detections, conf, &mut failures);
            let (w, h) = (image["width"].as_u64().unwrap() as usize, image["height"].as_u64().unwrap() as usize);
            let floor = if file.ends_with(".png") { 0.98 } else { 0.95 };
            for (i, pair) in pairs.iter().enumerate() {
                let Some(j) = pair else { continue };
                let reference = rle_decode(&image["masks"][i]["rle"], w * h);
                let overlap = mask_iou(&reference, &got.full_mask(*j));
                if overlap < worst.0 {
                    worst = (overlap, label.clone());
                }
                if overlap < floor {
                    failures.push(format!("{label}: mask {i} IoU {overlap} < {floor}"));
                }
                // The outline. Ultralytics traces every region of the mask at the input's resolution, scales the
                // points and joins the regions with thin bridges; the library gives the largest region's outline.
                // Here the input is the image at gain 1 (the letterbox only pads), so the points are the same
                // pixels: every point of ours must be one of Ultralytics', and enclose most of its area.
                let reference: Vec<[f32; 2]> = image["masks"][i]["polygon"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|p| {
                        let v = numbers(p);
                        [v[0], v[1]]
                    })
                    .collect();
                let ours = &got.polygons[*j];
                if let Some(stray) = ours.iter().find(|p| !reference.contains(p)) {
                    failures.push(format!("{label}: outline {i} has {stray:?}, not a point of Ultralytics' outline"));
                }
                let (area, theirs) = (shoelace(ours), shoelace(&reference));
                polygon_worst = polygon_worst.min(area / theirs.max(1.0));
                if area < 0.9 * theirs {
                    failures.push(format!("{label}: outline {i} encloses {area} px, Ultralytics' {theirs}"));
                }
                compared += 1;
            }
        }
    }
    eprintln!("lowest mask IoU {} ({}); smallest outline area ratio {polygon_worst}", worst.0, worst.1);
    report(what, compared, failures);
}

#[test]
fn pose_boxes_and_keypoints_match_ultralytics() {
    if let Some(f) = fixtures(YOLO11, "pose boxes and keypoints match ultralytics") {
        check_pose(&f, "pose", "pose boxes and keypoints match ultralytics");
    }
}

#[test]
fn yolo26_pose_boxes_and_keypoints_match_ultralytics() {
    if let Some(f) = fixtures(YOLO26, "yolo26 pose boxes and keypoints match ultralytics") {
        check_pose(&f, "pose", "yolo26 pose boxes and keypoints match ultralytics");
    }
}

fn check_pose(f: &Fixtures, key: &str, what: &str) {
    let (mut compared, mut failures, mut worst) = (0, Vec::new(), (0.0f32, 0.0f32));
    for run in runs(f, key) {
        let settings = &run["settings"];
        let (detector, options) = open(f, key, settings);
        let mut shape = (0usize, 0usize);
        // SAFETY: live detector, local out-pointers.
        assert_eq!(unsafe { yolo_keypoint_shape(detector.0, &mut shape.0, &mut shape.1) }, yolo_status::Ok);
        assert_eq!(shape, (5, 3));
        let conf = settings["conf"].as_f64().unwrap() as f32;
        for image in run["images"].as_array().unwrap() {
            let file = image["file"].as_str().unwrap();
            let label = format!("{} {file}", run["id"].as_str().unwrap());
            let got = detect_file(f, &detector, file, Some(&options));
            let expected = expected_boxes(image);
            let pairs = match_boxes(&label, &expected, &got.detections, conf, &mut failures);
            for (i, pair) in pairs.iter().enumerate() {
                let Some(j) = pair else { continue };
                for (k, reference) in image["keypoints"][i].as_array().unwrap().iter().enumerate() {
                    let r = numbers(reference);
                    let ours = got.keypoints[*j][k];
                    let distance = ((ours.x - r[0]).powi(2) + (ours.y - r[1]).powi(2)).sqrt();
                    let confidence = (ours.confidence - r[2]).abs();
                    worst = (worst.0.max(distance), worst.1.max(confidence));
                    if distance > 1.0 || confidence > 0.02 {
                        failures.push(format!("{label}: keypoint {k} of box {i}: {ours:?} vs {r:?}"));
                    }
                    compared += 1;
                }
            }
        }
    }
    eprintln!("largest keypoint distance {} px, confidence difference {}", worst.0, worst.1);
    report(what, compared, failures);
}

/// The angle difference between two rotated boxes modulo the symmetries of a rectangle: turning by pi
/// gives the same box, and turning by pi/2 with width and height swapped.
fn angle_difference(a: (f32, f32, f32), b: (f32, f32, f32)) -> (f32, f32, f32) {
    use std::f32::consts::{FRAC_PI_2, PI};
    let wrap = |d: f32| {
        let d = d.rem_euclid(PI);
        d.min(PI - d)
    };
    let same = (wrap(a.2 - b.2), (a.0 - b.0).abs(), (a.1 - b.1).abs());
    let swapped = (wrap(a.2 - b.2 - FRAC_PI_2), (a.0 - b.1).abs(), (a.1 - b.0).abs());
    if same.0 <= swapped.0 {
        same
    } else {
        swapped
    }
}

#[test]
fn oriented_boxes_match_ultralytics() {
    if let Some(f) = fixtures(YOLO11, "oriented boxes match ultralytics") {
        check_obb(&f, "obb", "oriented boxes match ultralytics");
    }
}

#[test]
fn yolo26_oriented_boxes_match_ultralytics() {
    if let Some(f) = fixtures(YOLO26, "yolo26 oriented boxes match ultralytics") {
        check_obb(&f, "obb", "yolo26 oriented boxes match ultralytics");
    }
}

fn check_obb(f: &Fixtures, key: &str, what: &str) {
    let (mut compared, mut failures, mut worst) = (0, Vec::new(), (0.0f32, 0.0f32, 0.0f32));
    for run in runs(f, key) {
        let settings = &run["settings"];
        let (detector, options) = open(f, key, settings);
        let conf = settings["conf"].as_f64().unwrap() as f32;
        for image in run["images"].as_array().unwrap() {
            let file = image["file"].as_str().unwrap();
            let label = format!("{} {file}", run["id"].as_str().unwrap());
            let got = detect_file(f, &detector, file, Some(&options));
            assert_eq!(got.oriented.len(), got.detections.len());
            let mut taken = vec![false; got.oriented.len()];
            for (i, row) in image["detections"].as_array().unwrap().iter().enumerate() {
                let r = numbers(row);
                let (class, score) = (r[0] as u32, r[1]);
                let best = (0..got.oriented.len())
                    .filter(|&j| !taken[j] && got.detections[j].class_id == class)
                    .min_by(|&a, &b| {
                        let d = |j: usize| (got.oriented[j].cx - r[2]).hypot(got.oriented[j].cy - r[3]);
                        d(a).total_cmp(&d(b))
                    });
                let Some(j) = best else {
                    if (score - conf).abs() > THRESHOLD_MARGIN {
                        failures.push(format!("{label}: reference box {i} class {class} score {score} unmatched"));
                    }
                    continue;
                };
                let o = got.oriented[j];
                let centre = (o.cx - r[2]).hypot(o.cy - r[3]);
                let (angle, dw, dh) = angle_difference((o.width, o.height, o.angle), (r[4], r[5], r[6]));
                let score_difference = (got.detections[j].score - score).abs();
                if centre > 1.0 || dw > 1.0 || dh > 1.0 || angle > 0.01 || score_difference > 0.02 {
                    if (score - conf).abs() > THRESHOLD_MARGIN {
                        failures
                            .push(format!("{label}: box {i} {r:?} vs ours {o:?} score {}", got.detections[j].score));
                    }
                    continue;
                }
                let corners = numbers(&Value::Array(
                    image["corners"][i]
                        .as_array()
                        .unwrap()
                        .iter()
                        .flat_map(|p| p.as_array().unwrap().clone())
                        .collect(),
                ));
                let corner_error = corners.iter().zip(o.corners).map(|(a, b)| (a - b).abs()).fold(0.0f32, f32::max);
                if angle < 1e-4 && corner_error > 1.0 {
                    failures.push(format!("{label}: corners of box {i}: {corners:?} vs {:?}", o.corners));
                }
                worst = (worst.0.max(centre), worst.1.max(dw.max(dh)), worst.2.max(angle));
                taken[j] = true;
                compared += 1;
            }
            for (j, _) in taken.iter().enumerate().filter(|(_, t)| !**t) {
                if (got.detections[j].score - conf).abs() > THRESHOLD_MARGIN {
                    failures
                        .push(format!("{label}: extra box {:?} score {}", got.oriented[j], got.detections[j].score));
                }
            }
        }
    }
    eprintln!("largest centre error {} px, size error {} px, angle error {} rad", worst.0, worst.1, worst.2);
    report(what, compared, failures);
}

#[test]
fn classification_matches_ultralytics() {
    if let Some(f) = fixtures(YOLO11, "classification matches ultralytics") {
        check_classify(&f, "classify", "classification matches ultralytics");
    }
}

#[test]
fn yolo26_classification_matches_ultralytics() {
    if let Some(f) = fixtures(YOLO26, "yolo26 classification matches ultralytics") {
        check_classify(&f, "classify", "yolo26 classification matches ultralytics");
    }
}

fn check_classify(f: &Fixtures, key: &str, what: &str) {
    let (mut compared, mut failures, mut worst) = (0, Vec::new(), 0.0f32);
    for run in runs(f, key) {
        let (detector, _) = open(f, key, &run["settings"]);
        let mut task = yolo_task::Detect;
        // SAFETY: live detector, local out-pointer.
        assert_eq!(unsafe { yolo_model_task(detector.0, &mut task) }, yolo_status::Ok);
        assert_eq!(task, yolo_task::Classify);
        for image in run["images"].as_array().unwrap() {
            let file = image["file"].as_str().unwrap();
            let got = detect_file(f, &detector, file, None);
            assert!(got.detections.is_empty());
            let ids: Vec<u32> = got.classes.iter().map(|c| c.class_id).collect();
            let expected: Vec<u32> =
                image["top5"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap() as u32).collect();
            if ids != expected {
                failures.push(format!("{file}: top-5 {ids:?} vs {expected:?}"));
            }
            for (c, p) in got.classes.iter().zip(numbers(&image["top5_probs"])) {
                worst = worst.max((c.probability - p).abs());
                if (c.probability - p).abs() > 1e-3 {
                    failures.push(format!("{file}: class {} probability {} vs {p}", c.class_id, c.probability));
                }
            }
            compared += 1;
        }
    }
    eprintln!("largest probability difference {worst}");
    report(what, compared, failures);
}

/// Compares one export variant with Ultralytics' predictions on it, by its task.
fn check_variant(name: &str) {
    let what = format!("export variant {name} matches ultralytics");
    let Some(f) = variants(&what) else {
        return;
    };
    match f.reference["models"][name]["task"].as_str().unwrap() {
        "detect" => check_detect(&f, name, &what),
        "segment" => check_segment(&f, name, &what),
        "pose" => check_pose(&f, name, &what),
        "obb" => check_obb(&f, name, &what),
        other => panic!("{name}: no check for task {other}"),
    }
}

#[test]
fn variants_cover_the_reference() {
    let Some(f) = variants("export variants cover the reference") else {
        return;
    };
    let tested = [
        "shapes26-det-o2m",
        "shapes26-seg-o2m",
        "shapes26-pose-o2m",
        "shapes26-obb-o2m",
        "shapes26-det-o2m-static",
        "shapes26-det-nms",
        "shapes-seg-nms",
        "shapes-pose-nms",
        "shapes-obb-nms",
        "shapes26-seg-fp16",
        "shapes-pose-fp16",
        "yoloe-11n-seg",
        "yoloe-26n-seg",
        "yoloe-26n",
    ];
    let mut listed: Vec<&str> = f.reference["models"].as_object().unwrap().keys().map(String::as_str).collect();
    listed.sort_unstable();
    let mut tested = tested.to_vec();
    tested.sort_unstable();
    assert_eq!(listed, tested, "every variant of the reference has its test below");
}

#[test]
fn yolo26_one_to_many_detection_matches_ultralytics() {
    check_variant("shapes26-det-o2m");
}

#[test]
fn yolo26_one_to_many_segmentation_matches_ultralytics() {
    check_variant("shapes26-seg-o2m");
}

#[test]
fn yolo26_one_to_many_pose_matches_ultralytics() {
    check_variant("shapes26-pose-o2m");
}

#[test]
fn yolo26_one_to_many_oriented_boxes_match_ultralytics() {
    check_variant("shapes26-obb-o2m");
}

#[test]
fn yolo26_one_to_many_static_detection_matches_ultralytics() {
    check_variant("shapes26-det-o2m-static");
}

#[test]
fn yolo26_nms_export_matches_ultralytics() {
    check_variant("shapes26-det-nms");
}

#[test]
fn yolo11_nms_segmentation_matches_ultralytics() {
    check_variant("shapes-seg-nms");
}

#[test]
fn yolo11_nms_pose_matches_ultralytics() {
    check_variant("shapes-pose-nms");
}

#[test]
fn yolo11_nms_oriented_boxes_match_ultralytics() {
    check_variant("shapes-obb-nms");
}

#[test]
fn yolo26_fp16_segmentation_matches_ultralytics() {
    check_variant("shapes26-seg-fp16");
}

#[test]
fn yolo11_fp16_pose_matches_ultralytics() {
    check_variant("shapes-pose-fp16");
}

#[test]
fn yoloe_11_segmentation_matches_ultralytics() {
    check_variant("yoloe-11n-seg");
}

#[test]
fn yoloe_26_segmentation_matches_ultralytics() {
    check_variant("yoloe-26n-seg");
}

#[test]
fn yoloe_26_detection_matches_ultralytics() {
    check_variant("yoloe-26n");
}
