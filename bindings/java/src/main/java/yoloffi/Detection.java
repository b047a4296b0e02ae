package yoloffi;

/**
 * One detected object, in the image's pixels (after EXIF orientation): its class, the confidence and the
 * box corners, with what the model's task adds: {@code mask} and {@code polygon} ({@code [x, y]} points) for
 * segmentation, {@code keypoints} ({@code [x, y, confidence]} each) for pose, {@code obb} for oriented boxes
 * (whose axis-aligned bounds the box holds); null for the other tasks. {@code trackId} is the track's id
 * (from 1) from {@link Detector#track}, 0 from {@code detect} and for a frame's detections without ids.
 */
public record Detection(
    int classId,
    String className,
    float score,
    float x1,
    float y1,
    float x2,
    float y2,
    Mask mask,
    float[][] polygon,
    float[][] keypoints,
    OrientedBox obb,
    long trackId) {}
