package yoloffi;

/**
 * The depth of every pixel of an image, row-major ({@code data[y * width + x]}), in the model's unit (metres
 * for Ultralytics' depth models).
 */
public record DepthMap(int width, int height, float[] data) {}
