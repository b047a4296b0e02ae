package yoloffi;

/**
 * One detected object, in the image's pixels (after EXIF orientation): its class, the confidence and the
 * box corners.
 */
public record Detection(int classId, String className, float score, float x1, float y1, float x2, float y2) {}
