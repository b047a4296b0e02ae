package yoloffi;

/**
 * A segmentation mask cropped to the pixels it covers: {@code width * height} bytes, row by row, 1 inside the
 * object and 0 outside; {@code data[0]} is image pixel ({@code left}, {@code top}).
 */
public record Mask(int left, int top, int width, int height, byte[] data) {}
