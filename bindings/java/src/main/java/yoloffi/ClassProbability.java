package yoloffi;

/** One class of a classification. */
public record ClassProbability(int classId, String className, float probability) {}
