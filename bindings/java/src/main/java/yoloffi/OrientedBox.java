package yoloffi;

/** A rotated box in image pixels: centre, size, angle in radians, and its four corners as {@code [x, y]}. */
public record OrientedBox(float cx, float cy, float width, float height, float angle, float[][] corners) {}
