package yoloffi;

/**
 * The class of every pixel of an image (semantic segmentation), row-major: {@code ids[y * width + x]}.
 * {@code counts[c]} is how many pixels are of class {@code c}, for every class of the model.
 */
public record ClassMap(int width, int height, int[] ids, long[] counts) {}
